package dev.oncely.jdbc;

import java.util.Objects;

/**
 * The keys of one consumer in the dedup table, as {@link DedupTableAdmin#counts()} counted them.
 *
 * @param consumer the consumer scope
 * @param keys     distinct keys held, expired or not
 * @param expired  of those, keys whose claim has expired by the database clock: the backlog the purge (or
 *                 partition maintenance) has yet to remove
 */
public record ConsumerCounts(String consumer, long keys, long expired) {

    public ConsumerCounts {
        Objects.requireNonNull(consumer, "consumer");
    }
}
