/**
 * The JDBC stores ({@code dev.oncely.jdbc}): {@code JdbcDedupStore} on PostgreSQL, MariaDB/MySQL, H2 or any
 * database with savepoints. The package is also open, so that the DDL files it ships
 * ({@code dev/oncely/jdbc/*.sql}) can be read as resources by migration tools.
 */
module dev.oncely.jdbc {
    requires transitive dev.oncely.core;
    requires transitive java.sql;
    requires transitive org.jdbi.v3.core;
    requires org.slf4j;

    exports dev.oncely.jdbc;
    exports dev.oncely.jdbc.internal to dev.oncely.kafka;
    opens dev.oncely.jdbc;
}
