package dev.oncely.spring.kafka;

import dev.oncely.MisconfigurationException;
import dev.oncely.TransientStoreException;
import dev.oncely.kafka.KafkaOffsetStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.kafka.listener.ConsumerAwareRebalanceListener;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.TransactionStatus;
import org.springframework.transaction.support.DefaultTransactionDefinition;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Kafka offsets stored in the database, in the same transaction as the claims and the business writes, for batch
 * {@code @KafkaListener}s: oncely-kafka's offsets-in-the-database mode ({@link KafkaOffsetStore}'s table and fence)
 * under Spring Kafka's container. Register it as the container's rebalance listener (it seeks each assigned
 * partition to its stored offset) and run each batch through {@link #process}:
 *
 * <pre>{@code
 * factory.getContainerProperties().setConsumerRebalanceListener(offsets);
 *
 * @KafkaListener(topics = "orders", batch = "true")          // no @Transactional here: process() begins it
 * public void on(List<ConsumerRecord<String, String>> records) {
 *     offsets.process(records, () -> orders.write(records)); // orders.write: an @IdempotentBatch method
 * }
 * }</pre>
 *
 * <p>{@link #process} begins a transaction through the transaction manager, runs the fence first (for each
 * partition of the batch, the stored next offset moves from the one this consumer expects to the batch's last
 * offset + 1, or nothing moves), then your work (whose claims and writes join the transaction), and commits. A
 * fenced batch (another consumer moved the offset: this one lost the partition, or is behind a consumer that
 * committed later) rolls back, the batch's partitions are sought to their stored offsets, and {@code false} is
 * returned; no exception reaches the container. A batch that begins before a partition's stored offset (records
 * another consumer, or an earlier attempt whose commit outcome was unknown, already committed) is likewise not
 * run: the partition is sought to the stored offset. Kafka's own offset commit, which the container still makes,
 * is only a hint. Thread-safe: the state of each consumer is kept on its thread (the container calls the
 * rebalance listener and the listener on the consumer's thread).
 */
public final class DatabaseOffsets implements ConsumerAwareRebalanceListener {

    private static final Logger log = LoggerFactory.getLogger(DatabaseOffsets.class);

    /** The consumer and the offsets it expects per partition; a partition without an entry is re-read. */
    private static final class State {
        Consumer<?, ?> consumer;
        String group;
        final Map<TopicPartition, OptionalLong> expected = new HashMap<>();
    }

    private final KafkaOffsetStore store;
    private final PlatformTransactionManager transactionManager;
    private final DataSource dataSource;
    private final ThreadLocal<State> state = ThreadLocal.withInitial(State::new);
    private final TransactionDefinition definition;

    private DatabaseOffsets(KafkaOffsetStore store, PlatformTransactionManager transactionManager) {
        this.store = store;
        this.transactionManager = transactionManager;
        this.dataSource = store.dataSource();
        DefaultTransactionDefinition required = new DefaultTransactionDefinition(
                TransactionDefinition.PROPAGATION_REQUIRED);
        required.setName("oncely kafka offsets");
        this.definition = required;
    }

    /**
     * @param store              the offsets table, on the DataSource of the claims and the business writes
     * @param transactionManager the transaction manager of that DataSource (the one the store of the claims uses)
     */
    public static DatabaseOffsets of(KafkaOffsetStore store, PlatformTransactionManager transactionManager) {
        if (store == null) {
            throw new IllegalArgumentException("store is null: pass KafkaOffsetStore.builder(dataSource).build() on"
                    + " the DataSource of the claims.");
        }
        if (transactionManager == null) {
            throw new IllegalArgumentException("transactionManager is null: pass the PlatformTransactionManager of"
                    + " the offsets table's DataSource.");
        }
        return new DatabaseOffsets(store, transactionManager);
    }

    /** A work unit that may throw. */
    @FunctionalInterface
    public interface Work<X extends Exception> {
        void run() throws X;
    }

    /**
     * Runs {@code work} for {@code records} in one transaction with the fence first (see the class comment).
     *
     * @return {@code true} if the batch committed, {@code false} if it was fenced or already committed (nothing of
     *         it committed now; its partitions were sought to their stored offsets)
     * @throws X                        your work's exception, the same instance, after the rollback; the stored
     *                                  offsets are read again before the next batch of those partitions
     * @throws MisconfigurationException if a transaction is already active (put no {@code @Transactional} on the
     *                                  listener), or the container did not register this as its rebalance listener
     */
    public <X extends Exception> boolean process(List<? extends ConsumerRecord<?, ?>> records, Work<X> work)
            throws X {
        State current = state.get();
        if (current.consumer == null) {
            throw new MisconfigurationException("DatabaseOffsets.process ran on a consumer thread whose partitions"
                    + " it was not told about: register it as the container's rebalance listener"
                    + " (factory.getContainerProperties().setConsumerRebalanceListener(offsets)).");
        }
        if (TransactionSynchronizationManager.isActualTransactionActive()) {
            throw new MisconfigurationException("DatabaseOffsets.process begins the batch's transaction itself, but"
                    + " one is active already: remove @Transactional from the listener method, so that a fenced"
                    + " batch can roll back without failing the listener.");
        }
        if (records.isEmpty()) {
            return true;
        }
        Map<TopicPartition, long[]> ranges = ranges(records); // first and last offset per partition, sorted
        for (Map.Entry<TopicPartition, long[]> range : ranges.entrySet()) {
            OptionalLong expected = expected(current, range.getKey());
            if (expected.isPresent() && range.getValue()[0] < expected.getAsLong()) {
                log.debug("Partition {}: the batch begins at {} but {} is stored; seeking there",
                        range.getKey(), range.getValue()[0], expected.getAsLong());
                seekToStored(current, ranges.keySet());
                return false;
            }
        }
        TransactionStatus status = transactionManager.getTransaction(definition);
        boolean fenced = false;
        try {
            Connection connection = DataSourceUtils.getConnection(dataSource);
            try {
                for (Map.Entry<TopicPartition, long[]> range : ranges.entrySet()) {
                    TopicPartition tp = range.getKey();
                    if (!store.advance(connection, current.group, tp, current.expected.get(tp),
                            range.getValue()[1] + 1)) {
                        log.warn("Kafka offsets of group '{}', partition {}: another consumer moved the stored offset"
                                + " from {}; the batch of {} records is rolled back and the partition sought to"
                                + " the stored offset.", current.group, tp, current.expected.get(tp),
                                records.size());
                        fenced = true;
                        break;
                    }
                }
            } catch (SQLException e) {
                throw new TransientStoreException("Advancing the Kafka offsets of group '" + current.group
                        + "' failed: " + e.getMessage() + " (SQLState " + e.getSQLState() + "). Nothing was"
                        + " committed; the batch is retried.", e);
            } finally {
                DataSourceUtils.releaseConnection(connection, dataSource);
            }
            if (fenced) {
                transactionManager.rollback(status);
                seekToStored(current, ranges.keySet());
                return false;
            }
            work.run();
            transactionManager.commit(status);
        } catch (Exception | Error e) {
            if (!status.isCompleted()) {
                try {
                    transactionManager.rollback(status);
                } catch (RuntimeException rollback) {
                    e.addSuppressed(rollback);
                }
            }
            ranges.keySet().forEach(current.expected::remove); // read again: a commit may or may not have happened
            throw e;
        }
        ranges.forEach((tp, range) -> current.expected.put(tp, OptionalLong.of(range[1] + 1)));
        return true;
    }

    private OptionalLong expected(State current, TopicPartition tp) {
        OptionalLong known = current.expected.get(tp);
        if (known == null) {
            known = store.read(current.group, tp);
            current.expected.put(tp, known);
        }
        return known;
    }

    private void seekToStored(State current, Collection<TopicPartition> partitions) {
        Map<TopicPartition, Long> stored = store.read(current.group, partitions);
        for (TopicPartition tp : partitions) {
            Long offset = stored.get(tp);
            current.expected.put(tp, offset == null ? OptionalLong.empty() : OptionalLong.of(offset));
            if (offset != null) {
                current.consumer.seek(tp, offset);
            }
        }
    }

    private static Map<TopicPartition, long[]> ranges(List<? extends ConsumerRecord<?, ?>> records) {
        Map<TopicPartition, long[]> ranges = new TreeMap<>(Comparator.comparing(TopicPartition::topic)
                .thenComparingInt(TopicPartition::partition)); // one order for every batch: no deadlocks
        for (ConsumerRecord<?, ?> record : records) {
            long[] range = ranges.computeIfAbsent(new TopicPartition(record.topic(), record.partition()),
                    tp -> new long[] {record.offset(), record.offset()});
            range[0] = Math.min(range[0], record.offset());
            range[1] = Math.max(range[1], record.offset());
        }
        return ranges;
    }

    /** Seeks each assigned partition to its stored offset; a partition without one starts where Kafka says. */
    @Override
    public void onPartitionsAssigned(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        State current = state.get();
        current.consumer = consumer;
        current.group = consumer.groupMetadata().groupId();
        Map<TopicPartition, Long> stored = store.read(current.group, partitions);
        List<TopicPartition> fromKafka = new ArrayList<>();
        for (TopicPartition tp : partitions) {
            Long offset = stored.get(tp);
            if (offset == null) {
                current.expected.put(tp, OptionalLong.empty());
                fromKafka.add(tp);
            } else {
                current.expected.put(tp, OptionalLong.of(offset));
                consumer.seek(tp, offset);
            }
        }
        log.debug("Group '{}': partitions {} sought to their stored offsets {}; {} start where Kafka says",
                current.group, stored.keySet(), stored.values(), fromKafka);
    }

    @Override
    public void onPartitionsRevokedAfterCommit(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        partitions.forEach(state.get().expected::remove);
    }

    @Override
    public void onPartitionsLost(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        partitions.forEach(state.get().expected::remove);
    }

    @Override
    public String toString() {
        return "Kafka offsets in " + store;
    }
}
