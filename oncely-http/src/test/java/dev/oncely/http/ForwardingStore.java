package dev.oncely.http;

import dev.oncely.CallerTransaction;
import dev.oncely.DedupStore;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.TransactionWork;
import java.util.Optional;

/** A store that forwards everything to another one; a test overrides what it makes fail. */
abstract class ForwardingStore implements DedupStore {
    private final DedupStore store;

    ForwardingStore(DedupStore store) {
        this.store = store;
    }

    @Override
    public <T> T inTransaction(TransactionWork<T> work) throws Exception {
        return store.inTransaction(work);
    }

    @Override
    public <T> T inCallerTransaction(CallerTransaction transaction, TransactionWork<T> work) throws Exception {
        return store.inCallerTransaction(transaction, work);
    }

    @Override
    public int purgeExpired(int maxRows) {
        return store.purgeExpired(maxRows);
    }

    @Override
    public Optional<LeaseStore> leases() {
        return store.leases();
    }

    @Override
    public String describe() {
        return store.describe();
    }
}
