package dev.oncely.kafka;

import dev.oncely.jdbc.JdbcTransactions;
import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.jdbc.Database;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
 *       next offset is written by a fenced update in the same transaction as the claims and the business writes,
 *       a transaction of the handler's {@code JdbcDedupStore} ({@code inTransaction}: the same retries of
 *       serialization failures and deadlocks, the same {@link CommitOutcomeUnknownException} when the reply to
 *       the commit is lost); on assignment the consumer seeks to the stored offsets; Kafka's commit is only a
 *       hint for monitoring.
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
 * already committed are committed to Kafka, and the exception reaches the caller of {@link #pollOnce()} unchanged
 * (the same instance). Call {@link #pollOnce()} again to retry, or close the consumer: nothing is lost either way.
 * {@link #run()} retries what is expected to pass by itself and stops on the rest; see {@link #run()} and the
 * table in docs/brokers.md.
 *
 * <p>Not thread-safe, like the Kafka consumer it drives: use it from one thread. Only {@link #stop()} may be
 * called from another.
 *
 * <pre>{@code
 * IdempotentHandler<ConsumerRecord<String, String>, Void, ?> handler =
 *         IdempotentHandler.<ConsumerRecord<String, String>, Void>builder(store)
 *                 .consumer("billing")
 *                 .key(RecordKeys.header("event-id"))
 *                 .handler((record, ctx) -> { insertCharge(ctx.unwrap(Connection.class), record.value()); return null; })
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
    private final IdempotentHandler<ConsumerRecord<K, V>, ?, ?> handler;
    private final List<String> topics;
    private final Duration pollTimeout;
    private final KafkaOffsetStore offsets;
    /** The handler's store when it is a JdbcDedupStore (required with offsets in the database), else null. */
    private final JdbcDedupStore jdbcStore;
    private final PoisonRecordHandler<K, V> poisonHandler;
    private final Duration backoffInitial;
    private final Duration backoffMax;
    private final String group;
    private final ConsumerRebalanceListener listener = new Listener();
    /** Offsets-in-database mode: the stored next offset this consumer expects, per partition it owns. */
    private final Map<TopicPartition, OptionalLong> expected = new HashMap<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private boolean subscribed;

    private KafkaPollLoop(Builder<K, V> builder, String group) {
        this.consumer = builder.consumer;
        this.handler = builder.handler;
        this.topics = List.copyOf(builder.topics);
        this.pollTimeout = builder.pollTimeout;
        this.offsets = builder.offsets;
        this.jdbcStore = builder.handler.store() instanceof JdbcDedupStore jdbc ? jdbc : null;
        this.poisonHandler = builder.poisonHandler;
        this.backoffInitial = builder.backoffInitial;
        this.backoffMax = builder.backoffMax;
        this.group = group;
    }

    /** Starts a builder on your consumer (with {@code group.id} set and {@code enable.auto.commit=false}). */
    public static <K, V> Builder<K, V> builder(Consumer<K, V> consumer,
                                               IdempotentHandler<ConsumerRecord<K, V>, ?, ?> handler) {
        return new Builder<>(consumer, handler);
    }

    /**
     * Subscribes on the first call, polls once and processes what the poll returned.
     *
     * @throws Exception       your handler's exception, unchanged, after the rollback and rewind described above
     * @throws OncelyException if the database failed, or a record is poison and no
     *                         {@link Builder#onPoisonRecord poison handler} is set
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
        Tally tally = new Tally();
        Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
        Exception failure = null;
        for (TopicPartition tp : records.partitions()) {
            List<ConsumerRecord<K, V>> batch = records.records(tp);
            if (batch.isEmpty()) {
                continue;
            }
            long first = batch.get(0).offset();
            if (failure != null) {
                rewind(tp, first);
                continue;
            }
            try {
                processPartition(tp, batch, tally, toCommit);
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
            log.debug("Poll of group '{}': {} records, {} processed, {} duplicates, {} poison skipped, fenced {}",
                    group, records.count(), tally.processed, tally.duplicates, tally.poisoned, tally.fenced);
        }
        return new PollResult(records.count(), tally.processed, tally.duplicates, tally.fenced, tally.poisoned);
    }

    /**
     * Polls and processes until {@link #stop()}. Returns normally after a stop. What ends it and what it retries
     * (the table in docs/brokers.md):
     * <ul>
     *   <li>Retried, after rewinding the partition, with a bounded exponential back-off and a WARN: a
     *       {@link TransientStoreException} (database unreachable, lock timeouts, serialization failures and
     *       deadlocks the store's own retries did not absorb), a {@link CommitOutcomeUnknownException} (the
     *       redelivery is processed once or found a duplicate), and your handler's exception when the handler's
     *       {@code JdbcDedupStore} classifies it as one the database asks to retry (SQLState 40001, 40P01, MariaDB
     *       1213 or 1205) after the store's retries ran out.</li>
     *   <li>A poison record ({@link InvalidMessageException}, {@link PayloadConflictException}): handed to the
     *       {@link Builder#onPoisonRecord poison handler} and skipped; without one, it ends the loop.</li>
     *   <li>Ends the loop with the exception itself: a {@link MisconfigurationException} (every record would fail
     *       the same way), any other exception of your handler (the loop cannot tell a bug from an outage, and
     *       retrying a bug forever would stall the partition silently), the consumer's own errors (authorization,
     *       authentication, no offset reset policy, a record that cannot be deserialized: Kafka retries what is
     *       retriable inside {@code poll}, so what reaches the loop is not), and errors.</li>
     * </ul>
     * Nothing is lost when it ends: the failed partitions were rewound and their offsets not committed. Does not
     * close the consumer: you own it.
     */
    public void run() throws Exception {
        int failuresInARow = 0;
        try {
            while (!stopping.get()) {
                try {
                    pollOnce();
                    failuresInARow = 0;
                } catch (TransientStoreException | CommitOutcomeUnknownException e) {
                    failuresInARow++;
                    backOff(failuresInARow, e);
                } catch (OncelyException e) {
                    throw e; // misconfiguration, or a poison record without a poison handler
                } catch (KafkaException e) {
                    // The consumer's own errors (wakeup and interrupt included): Kafka retried what it could.
                    throw e;
                } catch (Exception e) {
                    if (jdbcStore == null || !jdbcStore.isRetryable(e)) {
                        throw e;
                    }
                    failuresInARow++;
                    backOff(failuresInARow, e);
                }
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
        stopped.countDown();
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

    /** Counts of one poll. */
    private static final class Tally {
        int processed;
        int duplicates;
        int poisoned;
        final Set<TopicPartition> fenced = new LinkedHashSet<>();

        void add(List<? extends Outcome<?>> outcomes) {
            for (Outcome<?> outcome : outcomes) {
                if (outcome.isProcessed()) {
                    processed++;
                } else {
                    duplicates++;
                }
            }
        }
    }

    /**
     * One partition's records in one transaction. A poison record, with a poison handler set, is handed to it and
     * skipped together with committing the records before it; the records after it come again with the next poll.
     */
    private void processPartition(TopicPartition tp, List<ConsumerRecord<K, V>> batch, Tally tally,
                                  Map<TopicPartition, OffsetAndMetadata> toCommit) throws Exception {
        ConsumerRecord<K, V> last = batch.get(batch.size() - 1);
        try {
            if (commitBatch(tp, batch, last.offset() + 1, tally)) {
                toCommit.put(tp, new OffsetAndMetadata(last.offset() + 1, last.leaderEpoch(), ""));
            }
            return;
        } catch (InvalidMessageException | PayloadConflictException e) {
            if (poisonHandler == null) {
                throw e;
            }
            int poison = indexOfPoison(tp, batch, e, tally, toCommit);
            if (poison < 0) {
                return; // the records up to the conflicting key's first occurrence committed; the rest comes again
            }
            ConsumerRecord<K, V> record = batch.get(poison);
            poisonHandler.onPoisonRecord(record, e);
            long skipTo = record.offset() + 1;
            if (commitBatch(tp, batch.subList(0, poison), skipTo, tally)) {
                tally.poisoned++;
                toCommit.put(tp, new OffsetAndMetadata(skipTo, record.leaderEpoch(), ""));
                log.warn("Skipped poison record {} of group '{}' after handing it to the poison handler: {}",
                        RecordKeys.position(record), group, e.getMessage());
                if (poison < batch.size() - 1) {
                    rewind(tp, skipTo);
                }
            }
        }
    }

    /**
     * The index of the record in {@code batch} that {@code e} is about, or -1 if it turned out to be a later
     * occurrence of a key that conflicts only within the batch (then the records up to the first occurrence are
     * committed and the partition rewound behind it).
     *
     * @throws OncelyException {@code e} itself if no record of the batch matches it
     */
    private int indexOfPoison(TopicPartition tp, List<ConsumerRecord<K, V>> batch, OncelyException e, Tally tally,
                              Map<TopicPartition, OffsetAndMetadata> toCommit) throws Exception {
        if (e instanceof InvalidMessageException) {
            for (int i = 0; i < batch.size(); i++) {
                try {
                    handler.keyOf(batch.get(i));
                } catch (InvalidMessageException invalid) {
                    return i;
                }
            }
            throw e;
        }
        String key = ((PayloadConflictException) e).key();
        for (int i = 0; i < batch.size(); i++) {
            if (key.equals(handler.keyOf(batch.get(i)))) {
                // The key's first occurrence conflicts with the stored claim, or a later occurrence conflicts with
                // this one: run up to and including it to tell which.
                ConsumerRecord<K, V> record = batch.get(i);
                try {
                    if (commitBatch(tp, batch.subList(0, i + 1), record.offset() + 1, tally)) {
                        toCommit.put(tp, new OffsetAndMetadata(record.offset() + 1, record.leaderEpoch(), ""));
                        rewind(tp, record.offset() + 1);
                    }
                    return -1;
                } catch (PayloadConflictException again) {
                    if (!key.equals(again.key())) {
                        throw again;
                    }
                    return i;
                }
            }
        }
        throw e;
    }

    /**
     * Runs {@code records} (possibly none) of one partition in one transaction and moves its offset to
     * {@code next}; false if nothing was committed (fenced, or the stored offset had to be loaded first).
     */
    private boolean commitBatch(TopicPartition tp, List<ConsumerRecord<K, V>> records, long next, Tally tally)
            throws Exception {
        if (offsets == null) {
            tally.add(records.isEmpty() ? List.of() : handler.processBatch(records));
            return true;
        }
        OptionalLong expect = expected.get(tp);
        if (expect == null) {
            loadBeforeProcessing(tp, records);
            return false;
        }
        List<? extends Outcome<?>> outcomes = processWithStoredOffset(tp, records, expect, next);
        if (outcomes == null) {
            tally.fenced.add(tp);
            return false;
        }
        tally.add(outcomes);
        return true;
    }

    /** Rolls back the store's transaction when the fence finds another offset; never reaches users. */
    private static final class Fenced extends Exception {
        Fenced() {
            super("fenced", null, false, false);
        }
    }

    /**
     * Carries a failure of the offset statement itself out of the store's transaction, to tell it from the
     * handler's own SQL errors. Its cause is the driver's exception, so the store still retries it when the
     * database asks for a retry (a serialization failure of the fence at REPEATABLE READ).
     */
    private static final class OffsetUpdateFailed extends Exception {
        OffsetUpdateFailed(SQLException cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /**
     * The stored offset was not loaded at assignment (the listener's read failed) or is uncertain (a commit whose
     * outcome is unknown): load it now and let the next poll fetch from there, rather than trust the position
     * Kafka gave. Nothing of {@code batch} is processed.
     */
    private void loadBeforeProcessing(TopicPartition tp, List<ConsumerRecord<K, V>> batch) {
        log.debug("No stored offset known for partition {} of group '{}'; reading it from {} and seeking there"
                + " before processing", tp, group, offsets.tableName());
        loadAndSeek(List.of(tp));
        if (!batch.isEmpty()) {
            rewind(tp, expected.get(tp).orElse(batch.get(0).offset()));
        }
    }

    /**
     * One partition's batch in one transaction of the handler's store, with its fenced offset update first;
     * null if fenced.
     */
    private List<? extends Outcome<?>> processWithStoredOffset(TopicPartition tp, List<ConsumerRecord<K, V>> batch,
                                                             OptionalLong expect, long next) throws Exception {
        List<? extends Outcome<?>> outcomes;
        try {
            outcomes = jdbcStore.inTransaction(tx -> {
                Connection connection = tx.resource(Connection.class).orElseThrow(() -> new MisconfigurationException(
                        jdbcStore.describe() + " offers its transactions no JDBC Connection; offsetsInDatabase needs"
                                + " one to update " + offsets.tableName() + " in the same transaction."));
                boolean moved;
                try {
                    // The fence goes first: it locks the partition's offset row, so a second consumer of the same
                    // partition waits here instead of running its handler, and a stale one fails before any work.
                    moved = offsets.advance(connection, group, tp, expect, next);
                } catch (SQLException e) {
                    throw new OffsetUpdateFailed(e);
                }
                if (!moved) {
                    throw new Fenced();
                }
                return handler.processBatchIn(JdbcTransactions.of(connection), batch);
            });
        } catch (Fenced f) {
            resyncAfterFence(tp, expect, batch.size());
            return null;
        } catch (OffsetUpdateFailed f) {
            SQLException cause = (SQLException) f.getCause();
            throw jdbcStore.translate("The offset update of partition " + tp + " of group '" + group + "' in "
                    + offsets.tableName() + " (the batch was rolled back)", cause, offsets.tableName(),
                    offsets.ddlResource());
        } catch (CommitOutcomeUnknownException e) {
            // The stored offset is now either the expected one or next: read it again before going on.
            expected.remove(tp);
            throw e;
        }
        expected.put(tp, OptionalLong.of(next));
        return outcomes;
    }

    private void backOff(int failuresInARow, Exception e) throws InterruptedException {
        long max = backoffMax.toMillis();
        long delay = Math.min(max, backoffInitial.toMillis() << Math.min(failuresInARow - 1, 30));
        if (delay < 0) {
            delay = max;
        }
        log.warn("Group '{}': a poll failed ({}, {} in a row); its partitions were rewound and nothing of them"
                        + " committed. Polling again in {} ms.", group, e.toString(), failuresInARow, delay);
        stopped.await(delay, TimeUnit.MILLISECONDS);
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

    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (offsets == null) {
                log.debug("Group '{}' assigned {}", group, partitions);
                return;
            }
            if (!partitions.isEmpty()) {
                try {
                    loadAndSeek(partitions);
                } catch (OncelyException e) {
                    // Thrown from here it would reach poll() wrapped in a KafkaException. The partitions stay
                    // without an expected offset, and each is read again before its first batch: a transient
                    // failure passes, a misconfiguration then reaches the caller as itself.
                    log.warn("Group '{}': reading the stored offsets of {} failed ({}); reading them again before"
                            + " processing", group, partitions, e.getMessage());
                }
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
        private final IdempotentHandler<ConsumerRecord<K, V>, ?, ?> handler;
        private final Set<String> topics = new LinkedHashSet<>();
        private Duration pollTimeout = Duration.ofMillis(500);
        private KafkaOffsetStore offsets;
        private PoisonRecordHandler<K, V> poisonHandler;
        private Duration backoffInitial = Duration.ofMillis(100);
        private Duration backoffMax = Duration.ofSeconds(10);

        private Builder(Consumer<K, V> consumer, IdempotentHandler<ConsumerRecord<K, V>, ?, ?> handler) {
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

        /**
         * What to do with a poison record (a missing or invalid key, or a key processed before with another
         * payload): hand it to {@code poisonHandler} (send it to a dead-letter topic, say) and skip it. Without
         * one, such a record ends {@link KafkaPollLoop#run()} with its {@link InvalidMessageException} or
         * {@link PayloadConflictException}, and the partition stays at that record until someone acts.
         */
        public Builder<K, V> onPoisonRecord(PoisonRecordHandler<K, V> poisonHandler) {
            this.poisonHandler = Objects.requireNonNull(poisonHandler, "poisonHandler");
            return this;
        }

        /**
         * The back-off of {@link KafkaPollLoop#run()} after a poll that failed in a way expected to pass (see
         * {@code run()}): {@code initial}, doubled after each failure in a row, at most {@code max}. Default 100 ms
         * to 10 s.
         */
        public Builder<K, V> retryBackoff(Duration initial, Duration max) {
            if (initial == null || max == null || initial.isNegative() || initial.isZero()
                    || max.compareTo(initial) < 0) {
                throw new IllegalArgumentException("retryBackoff needs 0 < initial <= max, was " + initial + " and "
                        + max + ": e.g. Duration.ofMillis(100) and Duration.ofSeconds(10).");
            }
            this.backoffInitial = initial;
            this.backoffMax = max;
            return this;
        }

        /**
         * The offset update runs on the claims' transaction, so the offsets table must be in the claims'
         * database: checks the handler's store is a JdbcDedupStore, on the same kind of database, and that the
         * table answers a query on one of its connections.
         */
        private void checkOffsetsBesideClaims() {
            if (!(handler.store() instanceof JdbcDedupStore jdbc)) {
                throw new IllegalArgumentException("offsetsInDatabase needs the claims in the same database"
                        + " transaction as the offsets, but the handler's store is " + handler.store().describe()
                        + ". Build the handler on a JdbcDedupStore over the same DataSource as the"
                        + " KafkaOffsetStore.");
            }
            if (!sameSql(jdbc.database(), offsets.database())) {
                throw new IllegalArgumentException("The Kafka offsets table is on " + offsets.database() + " but the"
                        + " handler's store is " + jdbc.describe() + ": the offset update runs in the claims'"
                        + " transaction, so both must be in the same database. Build the KafkaOffsetStore on the"
                        + " DataSource of the JdbcDedupStore.");
            }
            try {
                jdbc.inTransaction(tx -> {
                    offsets.probe(tx.resource(Connection.class).orElseThrow());
                    return null;
                });
            } catch (SQLException e) {
                throw new IllegalArgumentException("The Kafka offsets table " + offsets.tableName() + " is not"
                        + " reachable on a connection of the handler's store (" + jdbc.describe() + "): "
                        + e.getMessage() + ". The offset update runs in the claims' transaction, so the table must be"
                        + " in the same database: build the KafkaOffsetStore on the JdbcDedupStore's DataSource and"
                        + " apply its DDL (classpath resource " + offsets.ddlResource() + ", or"
                        + " createSchemaIfMissing()) before build().", e);
            } catch (OncelyException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("Checking the Kafka offsets table failed: " + e, e);
            }
        }

        public KafkaPollLoop<K, V> build() {
            if (topics.isEmpty()) {
                throw new IllegalArgumentException("KafkaPollLoop needs topics(\"name\", ...) before build().");
            }
            if (offsets != null) {
                checkOffsetsBesideClaims();
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
            if (offsets == null && !(handler.store() instanceof JdbcDedupStore)) {
                log.debug("The handler's store is no JdbcDedupStore: run() retries only TransientStoreException and"
                        + " CommitOutcomeUnknownException, not the handler's own SQL errors");
            }
            log.info("Oncely Kafka poll loop for group '{}' on topics {}, handler consumer '{}', offsets {}", group,
                    topics, handler.consumer(),
                    offsets == null ? "in Kafka (committed after the database commit)"
                            : "in the database table " + offsets.tableName());
            return loop;
        }
    }

    private static boolean sameSql(Database a, Database b) {
        return a == b || (a == Database.MARIADB || a == Database.MYSQL) && (b == Database.MARIADB
                || b == Database.MYSQL);
    }

    @Override
    public String toString() {
        return "KafkaPollLoop[group=" + group + ", topics=" + topics + ", offsets="
                + (offsets == null ? "kafka" : offsets.tableName()) + "]";
    }
}
