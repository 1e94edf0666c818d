package dev.oncely.spi;

/** A unit of work run by {@link dev.oncely.DedupStore} inside a transaction. */
@FunctionalInterface
public interface TransactionWork<T> {

    T execute(StoreTransaction transaction) throws Exception;
}
