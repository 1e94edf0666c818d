package dev.oncely.spi;

import java.time.Duration;
import java.util.AbstractList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Keys to claim together in one transaction, as {@link dev.oncely.IdempotentHandler} sends a batch: one consumer,
 * one retention and one choice of whether duplicates load their stored result, for every key; the keys distinct
 * and sorted (so that overlapping batches lock in the same order), each with its own payload fingerprint. A store
 * can claim them with one set-based statement without checking that they share anything.
 *
 * @param consumer   the consumer scope of every key
 * @param retention  how long every claim lasts, by the store's clock; empty means forever
 * @param loadResult whether duplicates must return their stored result
 * @param keys       the keys, distinct and sorted by key
 */
public record ClaimBatch(String consumer, Optional<Duration> retention, boolean loadResult, List<Key> keys) {

    /** One key of the batch and the fingerprint of its payload, if fingerprints are on. */
    public record Key(String key, Optional<String> fingerprint) {
        public Key {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(fingerprint, "fingerprint");
        }
    }

    public ClaimBatch {
        Objects.requireNonNull(consumer, "consumer");
        Objects.requireNonNull(retention, "retention");
        keys = List.copyOf(keys);
    }

    public int size() {
        return keys.size();
    }

    /** The key at {@code index} as a single-key request, for stores that claim one key at a time. */
    public ClaimRequest request(int index) {
        Key k = keys.get(index);
        return new ClaimRequest(consumer, k.key(), k.fingerprint(), retention, loadResult);
    }

    /** The keys as single-key requests, in order (a view). */
    public List<ClaimRequest> requests() {
        return new AbstractList<>() {
            @Override
            public ClaimRequest get(int index) {
                return request(index);
            }

            @Override
            public int size() {
                return keys.size();
            }
        };
    }
}
