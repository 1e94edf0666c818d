package dev.oncely.kafka;

import dev.oncely.CallerTransaction;
import dev.oncely.IdempotentHandler;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.TransientStoreException;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka poll loop that gives each record's database effects exactly once, and commits offsets only after the
 * database commit.
 *
 * <p>Each poll's records are processed <b>per partition</b>: the records of one partition go through
 * {@link IdempotentHandler#processBatch} as one batch, in one database transaction (one set-based claim for all
 * their keys, then your handler for each fresh record, in offset order). Per partition rather than the whole
 * poll in one transaction, because the partition is Kafka's unit of ownership: a rebalance or a fence takes away
 * one partition, and its failure must roll back that partition's work only, not another partition's that this
 * consumer still owns. After all partitions of the poll, the offsets of those that committed are committed to
 * Kafka with {@code commitSync}.
 *
 * <p>Two modes:
 * <ul>
 *   <li><b>Offsets in Kafka</b> (default): database commit, then {@code commitSync}. A crash between the two
 *       redelivers the records; their claims make them duplicates, so effects stay exactly once as long as the
 *       claims are kept longer than a redelivery can take ({@code retention}).</li>
 *   <li><b>Offsets in the database</b> ({@link Builder#offsetsInDatabase(KafkaOffsetStore)}): the partition's
 *       next offset is written by a fenced update in the same transaction as the claims and the business writes;
 *       on assignment the consumer seeks to the stored offsets; Kafka's commit is only a hint for monitoring.
 *       A consumer that lost a partition but still holds its records (a zombie) cannot commit over the new
 *       owner: its update finds another offset than the one it expects, and its batch rolls back
 *       ({@link PollResult#fenced()}).</li>
 * </ul>
 *
 * <p>Create the consumer with {@code enable.auto.commit=false} (the loop cannot read the consumer's
 * configuration to check it): with auto commit, the consumer may commit offsets of records whose transaction
 * has not committed, or has rolled back, and those records are lost.
 *
 * <p>If the handler throws for a record, its partition's batch rolls back, that partition and every partition
 * of the poll not yet processed are rewound to their first record of the poll, the offsets of the partitions
 * already committed are committed to Kafka, and the exception reaches you unchanged. Call {@link #pollOnce()}
 * or {@link #run()} again to retry, or close the consumer: nothing is lost either way.
 *
 * <p>Not thread-safe, like the Kafka consumer it drives: use it from one thread. Only {@link #stop()} may be
 * called from another.
 *
 * <pre>{@code
 * IdempotentHandler<ConsumerRecord<String, String>, Void> handler =
 *         IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(store)
 *                 .consumer("billing")
 *                 .key(RecordKeys.header("event-id"))
 *                 .handler((record, ctx) -> { insertCharge(ctx.connection(), record.value()); return null; })
 *                 .build();
 * KafkaPollLoop<String, String> loop = KafkaPollLoop.builder(consumer, handler)
 *         .topics("charges")
 *         .offsetsInDatabase(KafkaOffsetStore.builder(dataSource).build())
 *         .build();
 * loop.run();   // until loop.stop() from another thread
 * }</pre>
 *
 * @param <K> the record key type
 * @param <V> the record value type
 */
public final class KafkaPollLoop<K, V> {

    private static final Logger log = LoggerFactory.getLogger(KafkaPollLoop.class);

    private final Consumer<K, V> consumer;
    private final IdempotentHandler<ConsumerRecord<K, V>, ?> handler;
    private final List<String> topics;
    private final Duration pollTimeout;
    private final KafkaOffsetStore offsets;
    private final String group;
    private final ConsumerRebalanceListener listener = new Listener();
    /** Offsets-in-database mode: the stored next offset this consumer expects, per partition it owns. */
    private final Map<TopicPartition, OptionalLong> expected = new HashMap<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private boolean subscribed;

    private KafkaPollLoop(Builder<K, V> builder, String group) {
        this.consumer = builder.consumer;
        this.handler = builder.handler;
        this.topics = List.copyOf(builder.topics);
        this.pollTimeout = builder.pollTimeout;
        this.offsets = builder.offsets;
        this.group = group;
    }

    /** Starts a builder on your consumer (with {@code group.id} set and {@code enable.auto.commit=false}). */
    public static <K, V> Builder<K, V> builder(Consumer<K, V> consumer,
                                               IdempotentHandler<ConsumerRecord<K, V>, ?> handler) {
        return new Builder<>(consumer, handler);
    }

    /**
     * Subscribes on the first call, polls once and processes what the poll returned.
     *
     * @throws Exception       your handler's exception, unchanged, after the rollback and rewind described above
     * @throws OncelyException if the database failed
     * @throws WakeupException if {@link #stop()} interrupted the poll
     */
    public PollResult pollOnce() throws Exception {
        subscribe();
        return process(consumer.poll(pollTimeout));
    }

    /**
     * Processes records you polled yourself from this loop's consumer, after the loop subscribed it (with
     * {@link #subscribe()} or a first {@link #pollOnce()}), in the same way as {@link #pollOnce()}.
     */
    public PollResult process(ConsumerRecords<K, V> records) throws Exception {
        Objects.requireNonNull(records, "records");
        int processed = 0;
        int duplicates = 0;
        Set<TopicPartition> fenced = new LinkedHashSet<>();
        Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
        Exception failure = null;
        for (TopicPartition tp : records.partitions()) {
            List<ConsumerRecord<K, V>> batch = records.records(tp);
            if (batch.isEmpty()) {
                continue;
            }
            long first = batch.get(0).offset();
            ConsumerRecord<K, V> last = batch.get(batch.size() - 1);
            long next = last.offset() + 1;
            if (failure != null) {
                rewind(tp, first);
                continue;
            }
            try {
                List<? extends Outcome<?>> outcomes = offsets == null
                        ? handler.processBatch(batch)
                        : processWithStoredOffset(tp, batch, next);
                if (outcomes == null) {
                    fenced.add(tp);
                    continue;
                }
                for (Outcome<?> outcome : outcomes) {
                    if (outcome.isProcessed()) {
                        processed++;
                    } else {
                        duplicates++;
                    }
                }
                toCommit.put(tp, new OffsetAndMetadata(next, last.leaderEpoch(), ""));
            } catch (Exception e) {
                rewind(tp, first);
                failure = e;
            }
        }
        commitToKafka(toCommit);
        if (failure != null) {
            throw failure;
        }
        if (log.isDebugEnabled() && !records.isEmpty()) {
            log.debug("Poll of group '{}': {} records, {} processed, {} duplicates, fenced {}", group,
                    records.count(), processed, duplicates, fenced);
        }
        return new PollResult(records.count(), processed, duplicates, fenced);
    }

    /**
     * Polls and processes until {@link #stop()}. Returns normally after a stop; a handler or database failure
     * ends it with that exception (see the class comment). Does not close the consumer: you own it.
     */
    public void run() throws Exception {
        try {
            while (!stopping.get()) {
                pollOnce();
            }
        } catch (WakeupException e) {
            if (!stopping.get()) {
                throw e;
            }
        }
    }

    /** Makes {@link #run()} return after the current batch; safe to call from any thread. */
    public void stop() {
        stopping.set(true);
        consumer.wakeup();
    }

    /** Subscribes the consumer to the topics with the loop's rebalance listener, once. */
    public void subscribe() {
        if (!subscribed) {
            consumer.subscribe(topics, listener);
            subscribed = true;
        }
    }

    /** The consumer group the loop consumes in. */
    public String group() {
        return group;
    }

    /** Whether consumed offsets are stored in the database (and Kafka's commit is only a hint). */
    public boolean offsetsInDatabase() {
        return offsets != null;
    }

    // ------------------------------------------------------------------------------------------------------

    /** One partition's batch in one transaction with its fenced offset update; null if fenced. */
    private List<? extends Outcome<?>> processWithStoredOffset(TopicPartition tp, List<ConsumerRecord<K, V>> batch,
                                                             long next) throws Exception {
        OptionalLong expect = expected.get(tp);
        if (expect == null) {
            // The stored offsets were not loaded at assignment (the listener failed): load them now and let the
            // next poll fetch from there, rather than trust the position Kafka gave.
            log.warn("No stored offset loaded for partition {} of group '{}'; reading it from {} and seeking there"
                    + " before processing", tp, group, offsets.tableName());
            loadAndSeek(List.of(tp));
            if (!expected.containsKey(tp)) {
                expected.put(tp, OptionalLong.empty());
            }
            rewind(tp, expected.get(tp).orElse(batch.get(0).offset()));
            return List.of();
        }
        Connection connection;
        try {
            connection = offsets.dataSource().getConnection();
        } catch (SQLException e) {
            throw new TransientStoreException("Could not open a connection for the batch of partition " + tp + ": "
                    + e.getMessage() + ". Nothing was processed; the records will be fetched again.", e);
        }
        try {
            boolean committed = false;
            try {
                connection.setAutoCommit(false);
                // The fence goes first: it locks the partition's offset row, so a second consumer of the same
                // partition waits here instead of running its handler, and a stale one fails before any work.
                if (!offsets.advance(connection, group, tp, expect, next)) {
                    connection.rollback();
                    resyncAfterFence(tp, expect, batch.size());
                    return null;
                }
                List<? extends Outcome<?>> outcomes = handler.processBatchIn(CallerTransaction.of(connection), batch);
                try {
                    connection.commit();
                } catch (SQLException e) {
                    throw new TransientStoreException("Commit of the batch of partition " + tp + " (offsets " +
                            batch.get(0).offset() + " to " + (next - 1) + ") failed: " + e.getMessage() + ". If the"
                            + " connection was lost during the commit, its outcome is unknown: the offset, the claims"
                            + " and the business writes either all committed or none did. The records will be"
                            + " fetched again; the fence or the claims sort it out.", e);
                }
                committed = true;
                expected.put(tp, OptionalLong.of(next));
                return outcomes;
            } finally {
                if (!committed) {
                    rollbackQuietly(connection);
                }
            }
        } catch (SQLException e) {
            throw new MisconfigurationException("The offset update of partition " + tp + " in " + offsets.tableName()
                    + " failed: " + e.getMessage() + ". The batch was rolled back; check that the table exists"
                    + " (DDL: classpath resource " + KafkaOffsetStore.POSTGRESQL_DDL_RESOURCE + ").", e);
        } finally {
            try {
                connection.setAutoCommit(true);
            } catch (SQLException ignored) {
                // The connection is closed next; the pool resets or discards it.
            }
            try {
                connection.close();
            } catch (SQLException e) {
                log.debug("Closing the connection of partition {} failed: {}", tp, e.toString());
            }
        }
    }

    private void resyncAfterFence(TopicPartition tp, OptionalLong expect, int size) {
        OptionalLong stored = offsets.read(group, tp);
        log.warn("Partition {} of group '{}' is fenced: {} holds next offset {}, but this consumer expected {}."
                        + " Another consumer of the group has processed the partition since this one read its offset"
                        + " (this one lost it in a rebalance, or one that had lost it committed late). The batch of {}"
                        + " records was rolled back, nothing of it was written. This consumer goes on from the stored"
                        + " offset only while it still owns the partition.", tp, group, offsets.tableName(),
                stored.isPresent() ? stored.getAsLong() : "none", expect.isPresent() ? expect.getAsLong() : "none",
                size);
        if (stored.isPresent()) {
            expected.put(tp, stored);
            rewind(tp, stored.getAsLong());
        } else {
            expected.remove(tp);
        }
    }

    private void loadAndSeek(Collection<TopicPartition> partitions) {
        Map<TopicPartition, Long> stored = offsets.read(group, partitions);
        for (TopicPartition tp : partitions) {
            Long next = stored.get(tp);
            if (next != null) {
                consumer.seek(tp, next);
                expected.put(tp, OptionalLong.of(next));
            } else {
                expected.put(tp, OptionalLong.empty());
            }
        }
        log.debug("Group '{}' assigned {}; stored offsets {}", group, partitions, stored);
    }

    private void rewind(TopicPartition tp, long offset) {
        try {
            consumer.seek(tp, offset);
        } catch (IllegalStateException e) {
            // No longer assigned to this consumer: its next owner starts from the committed offset.
            log.debug("Partition {} is no longer assigned; not rewinding it", tp);
        }
    }

    private void commitToKafka(Map<TopicPartition, OffsetAndMetadata> toCommit) {
        if (toCommit.isEmpty()) {
            return;
        }
        for (int attempt = 1; ; attempt++) {
            try {
                consumer.commitSync(toCommit);
                return;
            } catch (WakeupException e) {
                // stop() during the commit: the database has the records; commit once more before giving up.
                if (attempt > 1) {
                    throw e;
                }
            } catch (InterruptException e) {
                throw e;
            } catch (KafkaException e) {
                if (offsets != null) {
                    log.debug("Kafka offset commit (a hint in offsets-in-database mode) failed for {}: {}",
                            toCommit.keySet(), e.toString());
                } else {
                    log.warn("Kafka offset commit failed for {} after their database commit: {}. Those records will"
                            + " be delivered again (to this consumer or the partition's new owner) and found to be"
                            + " duplicates.", toCommit.keySet(), e.toString());
                }
                return;
            }
        }
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            log.debug("Rollback failed: {}", e.toString());
        }
    }

    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (offsets == null) {
                log.debug("Group '{}' assigned {}", group, partitions);
                return;
            }
            if (!partitions.isEmpty()) {
                loadAndSeek(partitions);
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            // Offsets are committed after every poll, so nothing is pending here.
            partitions.forEach(expected::remove);
            log.debug("Group '{}' revoked {}", group, partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            partitions.forEach(expected::remove);
            log.debug("Group '{}' lost {}", group, partitions);
        }
    }

    /** Builds a {@link KafkaPollLoop}. Required: {@link #topics}. */
    public static final class Builder<K, V> {
        private final Consumer<K, V> consumer;
        private final IdempotentHandler<ConsumerRecord<K, V>, ?> handler;
        private final Set<String> topics = new LinkedHashSet<>();
        private Duration pollTimeout = Duration.ofMillis(500);
        private KafkaOffsetStore offsets;

        private Builder(Consumer<K, V> consumer, IdempotentHandler<ConsumerRecord<K, V>, ?> handler) {
            if (consumer == null) {
                throw new IllegalArgumentException("consumer is null: pass a KafkaConsumer created with group.id"
                        + " set and enable.auto.commit=false.");
            }
            if (handler == null) {
                throw new IllegalArgumentException("handler is null: pass an IdempotentHandler<ConsumerRecord<K, V>,"
                        + " ?> keyed with RecordKeys, e.g. RecordKeys.header(\"event-id\").");
            }
            this.consumer = consumer;
            this.handler = handler;
        }

        /** The topics to subscribe to. */
        public Builder<K, V> topics(String... topics) {
            Objects.requireNonNull(topics, "topics");
            for (String topic : topics) {
                if (topic == null || topic.isBlank()) {
                    throw new IllegalArgumentException("A topic name is " + (topic == null ? "null" : "blank")
                            + ": pass the names of the topics to consume.");
                }
                this.topics.add(topic);
            }
            return this;
        }

        /** How long one poll waits for records. Default 500 ms. */
        public Builder<K, V> pollTimeout(Duration pollTimeout) {
            if (pollTimeout == null || pollTimeout.isNegative() || pollTimeout.isZero()) {
                throw new IllegalArgumentException("pollTimeout must be positive, was " + pollTimeout
                        + ": e.g. Duration.ofMillis(500).");
            }
            this.pollTimeout = pollTimeout;
            return this;
        }

        /**
         * Stores the consumed offsets in the database, in the same transaction as the claims and the business
         * writes, and seeks to them on assignment. The handler's store must be a {@code JdbcDedupStore} on the
         * same database as {@code offsets}.
         */
        public Builder<K, V> offsetsInDatabase(KafkaOffsetStore offsets) {
            this.offsets = Objects.requireNonNull(offsets, "offsets");
            return this;
        }

        public KafkaPollLoop<K, V> build() {
            if (topics.isEmpty()) {
                throw new IllegalArgumentException("KafkaPollLoop needs topics(\"name\", ...) before build().");
            }
            if (offsets != null && !(handler.store() instanceof JdbcDedupStore)) {
                throw new IllegalArgumentException("offsetsInDatabase needs the claims in the same database"
                        + " transaction as the offsets, but the handler's store is " + handler.store().describe()
                        + ". Build the handler on a JdbcDedupStore over the same DataSource as the"
                        + " KafkaOffsetStore.");
            }
            String group;
            try {
                group = consumer.groupMetadata().groupId();
            } catch (KafkaException e) {
                throw new IllegalArgumentException("The consumer has no consumer group (" + e.getMessage() + "):"
                        + " set group.id in its configuration; the loop commits offsets per group.", e);
            }
            if (group == null || group.isBlank()) {
                throw new IllegalArgumentException("The consumer has no group.id: set it in the consumer's"
                        + " configuration; the loop commits offsets per group.");
            }
            KafkaPollLoop<K, V> loop = new KafkaPollLoop<>(this, group);
            log.info("Oncely Kafka poll loop for group '{}' on topics {}, handler consumer '{}', offsets {}", group,
                    topics, handler.consumer(),
                    offsets == null ? "in Kafka (committed after the database commit)"
                            : "in the database table " + offsets.tableName());
            return loop;
        }
    }

    @Override
    public String toString() {
        return "KafkaPollLoop[group=" + group + ", topics=" + topics + ", offsets="
                + (offsets == null ? "kafka" : offsets.tableName()) + "]";
    }
}
