package dev.oncely.testkit;

import dev.oncely.ProcessingContext;
import dev.oncely.inmemory.InMemoryDedupStore;
import dev.oncely.DedupStore;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;

/** The in-memory store against the whole conformance suite, with a clock the test moves. */
class InMemoryDedupStoreContractTest implements DedupStoreContract, LeaseContract {

    private final MutableClock clock = new MutableClock();
    private final Map<String, InMemoryDedupStore> stores = new ConcurrentHashMap<>();

    private final Map<String, AtomicLong> effects = new ConcurrentHashMap<>();

    @BeforeEach
    void reset() {
        stores.clear();
        effects.clear();
    }

    @Override
    public DedupStore store() {
        return storeOnTable(DEFAULT_TABLE);
    }

    @Override
    public DedupStore storeOnTable(String table) {
        return stores.computeIfAbsent(table, t -> InMemoryDedupStore.builder().clock(clock).name(t).build());
    }

    @Override
    public void recordEffect(ProcessingContext context) {
        effects.computeIfAbsent(context.consumer() + "|" + context.key(), k -> new AtomicLong()).incrementAndGet();
    }

    @Override
    public long effects(String consumer, String key) {
        AtomicLong n = effects.get(consumer + "|" + key);
        return n == null ? 0 : n.get();
    }

    @Override
    public long totalEffects() {
        return effects.values().stream().mapToLong(AtomicLong::get).sum();
    }

    @Override
    public long claimRows(String table) {
        InMemoryDedupStore store = stores.get(table);
        return store == null ? 0 : store.size();
    }

    @Override
    public OpenTransaction beginTransaction() {
        InMemoryDedupStore.InMemoryTransaction tx = ((InMemoryDedupStore) store()).begin();
        return new OpenTransaction() {
            @Override
            public dev.oncely.CallerTransaction transaction() {
                return tx;
            }

            @Override
            public void commit() {
                tx.commit();
            }

            @Override
            public void rollback() {
                tx.rollback();
            }

            @Override
            public void close() {
                tx.close();
            }
        };
    }

    @Override
    public void letStoreClockPass(Duration duration) {
        clock.advance(duration);
    }

    @Override
    public StoreCapabilities capabilities() {
        return StoreCapabilities.inMemory();
    }
}
