package dev.oncely.spring.kafka;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** @KafkaListener with @Idempotent / @IdempotentBatch on PostgreSQL. */
class PostgresSpringKafkaListenerTest extends SpringKafkaListenerTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }

    @Override
    String prefix() {
        return "pg";
    }
}
