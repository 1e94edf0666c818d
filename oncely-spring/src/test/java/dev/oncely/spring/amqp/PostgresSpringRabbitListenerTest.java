package dev.oncely.spring.amqp;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** @RabbitListener with @Idempotent and OncelyRabbitErrorHandler on PostgreSQL. */
class PostgresSpringRabbitListenerTest extends SpringRabbitListenerTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }

    @Override
    String prefix() {
        return "pg";
    }
}
