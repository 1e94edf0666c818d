package dev.oncely.jdbc;

import java.time.Duration;

/**
 * The time-partitioned PostgreSQL layout against the whole conformance suite with the overlap as long as a
 * partition: the previous partition takes claims for the whole of the current one, so every claim of this run
 * writes its key into two partitions and every duplicate meets it in both (the path a claim takes during the
 * first minutes of a partition in production). Tables prefixed {@code parto_}.
 */
class PostgresPartitionedOverlapStoreContractTest extends PostgresPartitionedStoreContractTest {

    @Override
    protected String tablePrefix() {
        return "parto_";
    }

    @Override
    protected Duration overlap() {
        return Duration.ofHours(1);
    }
}
