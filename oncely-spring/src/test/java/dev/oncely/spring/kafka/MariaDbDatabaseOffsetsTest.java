package dev.oncely.spring.kafka;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabases;

/** DatabaseOffsets under @KafkaListener batch containers on MariaDB. */
class MariaDbDatabaseOffsetsTest extends DatabaseOffsetsTestBase {

    @Override
    TestDatabase database() {
        return TestDatabases.mariadb();
    }

    @Override
    String prefix() {
        return "maria";
    }
}
