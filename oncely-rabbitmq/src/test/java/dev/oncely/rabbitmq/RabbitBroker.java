package dev.oncely.rabbitmq;

import static org.junit.jupiter.api.Assertions.fail;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;

/**
 * The RabbitMQ the tests run against: {@code ONCELY_TEST_RABBITMQ_URI}, else {@code amqp://guest:guest@127.0.0.1:5672}.
 * Fails (never skips) when it cannot be reached, saying how to start one.
 */
final class RabbitBroker {

    static final String URI_ENV = "ONCELY_TEST_RABBITMQ_URI";
    static final String DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672";

    private RabbitBroker() {
    }

    static String uri() {
        String uri = System.getenv(URI_ENV);
        return uri == null || uri.isBlank() ? DEFAULT_URI : uri;
    }

    static Connection connect(String name) {
        String uri = uri();
        ConnectionFactory factory = new ConnectionFactory();
        try {
            factory.setUri(uri);
        } catch (Exception e) {
            return fail(URI_ENV + " is not a valid AMQP URI: " + uri + " (" + e.getMessage() + ")");
        }
        // A closed channel must stay closed: the tests close channels on purpose to make the broker redeliver.
        factory.setAutomaticRecoveryEnabled(false);
        factory.setConnectionTimeout(5_000);
        try {
            return factory.newConnection(name);
        } catch (Exception e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            return fail("RabbitMQ is not reachable at " + uri.replaceAll("//[^@/]*@", "//***@") + " (" + e
                    + (root == e ? "" : ", caused by " + root) + "). The RabbitMQ adapter is tested against a real broker: start it with"
                    + " `rabbitmq-server -detached` (user guest/guest on 127.0.0.1:5672), or point " + URI_ENV
                    + " at another broker, e.g. amqp://user:password@host:5672 (append /vhost for another vhost than /).");
        }
    }
}
