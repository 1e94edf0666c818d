package dev.oncely.benchmarks;

import dev.oncely.CallerTransaction;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.DedupStore;
import dev.oncely.spi.StoreTransaction;
import dev.oncely.spi.TransactionWork;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-message cost of Oncely's own code, without a database.
 *
 * <ul>
 *   <li>{@code pipelineOnly}: {@link IdempotentHandler#process} on a store that claims every key at once and
 *       keeps nothing, so what is measured is the core pipeline alone (key extraction and validation, the claim
 *       request, the handler context, the outcome). Target: under 1 µs per message.</li>
 *   <li>{@code inMemoryFresh} / {@code inMemoryDuplicate}: the same with {@link InMemoryDedupStore}, a new key
 *       each time (the store is emptied before every iteration) and the same key each time.</li>
 * </ul>
 *
 * Run: see docs/benchmarks.md ({@code -Dbench.main=org.openjdk.jmh.Main -Dbench.args="PipelineBenchmark"}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {"-Xms1g", "-Xmx1g"})
@State(Scope.Thread)
public class PipelineBenchmark {

    private IdempotentHandler<String, Void, ?> pipeline;
    private IdempotentHandler<String, Void, ?> inMemory;
    private InMemoryDedupStore store;
    private String[] keys;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        pipeline = IdempotentHandler.<String, Void>builder(new ClaimEverythingStore())
                .consumer("bench").key(k -> k).handler((key, ctx) -> null).build();
        store = InMemoryDedupStore.create();
        inMemory = IdempotentHandler.<String, Void>builder(store)
                .consumer("bench").key(k -> k).handler((key, ctx) -> null).build();
        keys = new String[1 << 20];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "order-" + Integer.toHexString(i * 0x9E3779B1) + "-" + i;
        }
        inMemory.process("the-duplicate");
    }

    @Setup(Level.Iteration)
    public void emptyStore() throws Exception {
        store.clear();
        inMemory.process("the-duplicate");
        next = 0;
    }

    private String nextKey() {
        String key = keys[next & (keys.length - 1)];
        next++;
        return key;
    }

    @Benchmark
    public Outcome<Void> pipelineOnly() throws Exception {
        return pipeline.process(nextKey());
    }

    @Benchmark
    public Outcome<Void> inMemoryFresh() throws Exception {
        // Keys repeat after 2^20 messages in one iteration; those are duplicates, which cost no more.
        return inMemory.process(nextKey());
    }

    @Benchmark
    public Outcome<Void> inMemoryDuplicate() throws Exception {
        return inMemory.process("the-duplicate");
    }

    /** Claims every key, stores nothing: the floor under any real store. */
    static final class ClaimEverythingStore implements DedupStore, StoreTransaction {
        private static final Instant EPOCH = Instant.EPOCH;

        @Override
        public <T> T inTransaction(TransactionWork<T> work) throws Exception {
            return work.execute(this);
        }

        @Override
        public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
            return work.execute(this);
        }

        @Override
        public int purgeExpired(int maxRows) {
            return 0;
        }

        @Override
        public String describe() {
            return "claim-everything store";
        }

        @Override
        public ClaimResult claim(ClaimRequest request) {
            return ClaimResult.claimed(EPOCH);
        }

        @Override
        public void saveResult(String consumer, String key, byte[] result) {
        }

        @Override
        public <T> Optional<T> resource(Class<T> type) {
            return Optional.empty();
        }

        @Override
        public Set<Class<?>> resourceTypes() {
            return Set.of();
        }
    }
}
