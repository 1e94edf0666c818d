/**
 * The Kafka poll loop ({@code dev.oncely.kafka}): claims and, optionally, offsets in the database's transaction.
 * The package is also open, so that the offsets tables' DDL files it ships can be read as resources.
 */
module dev.oncely.kafka {
    requires transitive dev.oncely.jdbc;
    requires transitive kafka.clients;
    requires org.slf4j;

    exports dev.oncely.kafka;
    opens dev.oncely.kafka;
}
