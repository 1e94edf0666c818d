package dev.oncely.spring.kafka;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** DatabaseOffsets under @KafkaListener batch containers on PostgreSQL. */
class PostgresDatabaseOffsetsTest extends DatabaseOffsetsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.postgres();
    }

    @Override
    String prefix() {
        return "pg";
    }
}
