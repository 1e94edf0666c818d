package dev.oncely;

import java.util.Locale;

/**
 * How a message ended, as {@link OncelyListener}s see it: a bounded set, fit for a metrics tag.
 *
 * <p>New kinds may be added in a minor release (for example for handlers whose effects run outside the
 * transaction); a listener should treat a kind it does not know as it treats {@link #FAILED}, or pass its
 * {@link #tagValue()} on unchanged.
 */
public enum OutcomeKind {
    /** The key was claimed now, the handler ran, and both committed. */
    PROCESSED,
    /**
     * The key was processed before (or earlier in the same batch); the handler did not run, or, with
     * {@link IdempotentHandler.Builder#keyWrittenLast() keyWrittenLast}, ran and had its writes rolled back.
     */
    DUPLICATE,
    /** The key was processed before with another payload fingerprint: a {@link PayloadConflictException}. */
    CONFLICT,
    /**
     * The handler or the store threw (the handler's own exception, {@link TransientStoreException},
     * {@link CommitOutcomeUnknownException}, {@link MisconfigurationException}, ...); nothing committed, except that
     * after a {@link CommitOutcomeUnknownException} the outcome is unknown.
     */
    FAILED,
    /** The message had no valid key, or its key extractor or fingerprint failed: {@link InvalidMessageException}. */
    INVALID;

    private final String tagValue = name().toLowerCase(Locale.ROOT);

    /** The kind in lower case ({@code processed}, {@code duplicate}, ...), as metrics tags spell it. */
    public String tagValue() {
        return tagValue;
    }

    /** The kind of a failure: {@link #CONFLICT}, {@link #INVALID}, or {@link #FAILED} for anything else. */
    static OutcomeKind ofFailure(Throwable failure) {
        if (failure instanceof PayloadConflictException) {
            return CONFLICT;
        }
        if (failure instanceof InvalidMessageException) {
            return INVALID;
        }
        return FAILED;
    }
}
