package dev.oncely.http.internal;

import dev.oncely.DedupStore;
import dev.oncely.MisconfigurationException;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ProcessingContext;
import dev.oncely.http.IdempotencyContext;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.spi.StoreTransaction;
import java.util.HexFormat;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The in-transaction mode with the key written last ({@code keyWrittenLast()}): the handler runs first in the
 * store's transaction, then the key's row is inserted with the stored response in one statement
 * ({@link StoreTransaction#claimWithResult}), then the transaction commits. Two statements of the filter's fewer
 * than claim-first (the claim, and the UPDATE that stores the response). A concurrent duplicate's INSERT waits on
 * the first's uncommitted row and then finds it committed: everything the duplicate wrote rolls back and it is
 * answered with the replay (or 422). A retry of a completed key runs the handler too, and its writes roll back,
 * unless the store reads the key before its transaction ({@link DedupStore#inClaimingTransaction}: the JDBC store
 * does while most recent claims were duplicates).
 *
 * <p>Stored keys and fingerprints are those of the claim-first mode, so the two modes share their keys.
 */
final class KeyWrittenLast {

    private final DedupStore store;
    private final Settings settings;

    KeyWrittenLast(DedupStore store, Settings settings) {
        this.store = store;
        this.settings = settings;
    }

    Outcome<StoredResponse> process(Exchange exchange) throws Exception {
        ClaimRequest request = request(exchange);
        try {
            return store.inClaimingTransaction(request, claim -> duplicate(request, claim),
                    tx -> run(exchange, request, tx));
        } catch (Duplicate d) {
            return duplicate(request, d.claim);
        }
    }

    /**
     * After the handler threw: whether its key was written meanwhile by another request (committed), as its outcome
     * (a duplicate), or null. A duplicate's handler runs before its key is written, so it may fail on what the first
     * request wrote (a unique business key, say) where claim-first would have replayed; this tells that case from a
     * failure of its own. Claims the key to find out, in a transaction that always rolls back.
     */
    Outcome<StoredResponse> committedElsewhere(Exchange exchange) throws Exception {
        ClaimRequest request = request(exchange);
        ClaimResult claim;
        try {
            claim = store.inTransaction(tx -> {
                ClaimResult found = tx.claim(request);
                throw new Duplicate(found); // never commit: this only looks
            });
        } catch (Duplicate d) {
            claim = d.claim;
        }
        return claim.claimed() ? null : duplicate(request, claim);
    }

    private ClaimRequest request(Exchange exchange) {
        return new ClaimRequest(settings.consumer(), exchange.storedKey,
                Optional.of(storedFingerprint(exchange.fingerprint)), Optional.of(settings.retention()), true);
    }

    private Outcome<StoredResponse> run(Exchange exchange, ClaimRequest request, StoreTransaction tx)
            throws Exception {
        StoredResponse response = exchange.storeInstead != null ? exchange.storeInstead
                : Modes.runChain(exchange, settings, IdempotencyContext.ATTRIBUTE, new Context(tx, request.key()));
        ClaimResult claim = tx.claimWithResult(request, StoredResponse.CODEC.encode(response));
        if (!claim.claimed()) {
            throw new Duplicate(claim); // rolls back what this run wrote
        }
        return Outcome.processed(request.key(), claim.processedAt(), response);
    }

    private Outcome<StoredResponse> duplicate(ClaimRequest request, ClaimResult claim) {
        if (claim.fingerprint().isPresent() && !claim.fingerprint().equals(request.fingerprint())) {
            throw new PayloadConflictException(settings.consumer(), request.key(), claim.processedAt());
        }
        StoredResponse stored = null;
        if (claim.result().isPresent()) {
            try {
                stored = StoredResponse.CODEC.decode(claim.result().get());
            } catch (Exception e) {
                throw new MisconfigurationException("The stored response of key '" + request.key() + "' of consumer '"
                        + settings.consumer() + "' (first processed at " + claim.processedAt() + ") could not be"
                        + " read: " + e + ". The request was not run again.", e);
            }
        }
        return Outcome.duplicate(request.key(), claim.processedAt(), stored);
    }

    /** As IdempotentHandler stores it: the hex SHA-256 of the filter's request digest. */
    private static String storedFingerprint(byte[] digest) {
        return HexFormat.of().formatHex(Digests.sha256().digest(digest));
    }

    /** Carries a claim out of the transaction, rolling it back. */
    private static final class Duplicate extends RuntimeException {
        final transient ClaimResult claim;

        Duplicate(ClaimResult claim) {
            super("key written by another request", null, false, false);
            this.claim = claim;
        }
    }

    /** The handler's view of the transaction: its resources, under the stored key. */
    private final class Context implements ProcessingContext {
        private final StoreTransaction tx;
        private final String key;

        Context(StoreTransaction tx, String key) {
            this.tx = tx;
            this.key = key;
        }

        @Override
        public String consumer() {
            return settings.consumer();
        }

        @Override
        public String key() {
            return key;
        }

        @Override
        public <T> T unwrap(Class<T> type) {
            return tx.resource(type).orElseThrow(() -> new MisconfigurationException(store.describe() + " offers no "
                    + type.getName() + " to handlers; it offers " + (tx.resourceTypes().isEmpty() ? "none"
                    : tx.resourceTypes().stream().map(Class::getName).sorted().collect(Collectors.joining(", ")))
                    + "."));
        }

        @Override
        public <T> Optional<T> find(Class<T> type) {
            return tx.resource(type);
        }
    }
}
