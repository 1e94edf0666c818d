package dev.oncely.spring.amqp;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** @RabbitListener with @Idempotent and OncelyRabbitErrorHandler on MariaDB. */
class MariaDbSpringRabbitListenerTest extends SpringRabbitListenerTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }

    @Override
    String prefix() {
        return "maria";
    }
}
