package dev.oncely.spring.kafka;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** @KafkaListener with @Idempotent / @IdempotentBatch on MariaDB. */
class MariaDbSpringKafkaListenerTest extends SpringKafkaListenerTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }

    @Override
    String prefix() {
        return "maria";
    }
}
