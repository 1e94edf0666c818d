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
        // A closed channel must stay closed: the tests close channels on purpose to make the broker redeliver.
        return connect(name, false);
    }

    /**
     * A connection named {@code name} (the broker shows it as the connection_name client property), with the
     * client's automatic recovery on or off; when on, it retries every 2 seconds.
     */
    static Connection connect(String name, boolean automaticRecovery) {
        String uri = uri();
        ConnectionFactory factory = new ConnectionFactory();
        try {
            factory.setUri(uri);
        } catch (Exception e) {
            return fail(URI_ENV + " is not a valid AMQP URI: " + uri + " (" + e.getMessage() + ")");
        }
        factory.setAutomaticRecoveryEnabled(automaticRecovery);
        factory.setTopologyRecoveryEnabled(automaticRecovery);
        factory.setNetworkRecoveryInterval(2_000);
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

    /** The virtual host of {@link #uri()}: its path, "/" when it has none. */
    static String virtualHost() {
        String path = java.net.URI.create(uri()).getPath();
        return path == null || path.isEmpty() || path.equals("/") ? "/"
                : java.net.URLDecoder.decode(path.substring(1), java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * Makes the broker close the connection named {@code connectionName}, as an operator or a failing node would:
     * {@code rabbitmqctl close_connection} on the connection found by name in this test's virtual host. Needs
     * {@code rabbitmqctl} on the PATH with access to the broker's node (the local RabbitMQ).
     */
    static void closeFromBroker(String connectionName) throws Exception {
        String listing = rabbitmqctl("-q", "-p", virtualHost(), "list_connections", "--no-table-headers", "pid",
                "client_properties");
        String pid = null;
        for (String line : listing.split("\\R")) {
            if (line.contains("\"" + connectionName + "\"")) {
                pid = line.substring(0, line.indexOf('>') + 1).trim();
            }
        }
        if (pid == null || pid.isEmpty()) {
            fail("No connection named '" + connectionName + "' in virtual host " + virtualHost()
                    + " according to rabbitmqctl list_connections:\n" + listing);
        }
        rabbitmqctl("close_connection", pid, "closed by an Oncely test");
    }

    /** messages_unacknowledged of {@code queue}, from {@code rabbitmqctl list_queues}. */
    static long unackedMessages(String queue) throws Exception {
        String listing = rabbitmqctl("-q", "-p", virtualHost(), "list_queues", "--no-table-headers", "name",
                "messages_unacknowledged");
        for (String line : listing.split("\\R")) {
            String[] columns = line.trim().split("\\s+");
            if (columns.length == 2 && columns[0].equals(queue)) {
                return Long.parseLong(columns[1]);
            }
        }
        return fail("Queue '" + queue + "' not listed by rabbitmqctl list_queues in " + virtualHost() + ":\n"
                + listing);
    }

    private static String rabbitmqctl(String... args) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>();
        command.add("rabbitmqctl");
        command.addAll(java.util.List.of(args));
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            return fail("Cannot run rabbitmqctl (" + e.getMessage() + "): the connection-loss tests make the broker"
                    + " close a connection with it. Put RabbitMQ's sbin directory on the PATH.");
        }
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) || process.exitValue() != 0) {
            fail("rabbitmqctl " + String.join(" ", args) + " failed:\n" + output);
        }
        return output;
    }
}
