package dev.oncely;

/**
 * A leased run lost its key before it could record its outcome ({@link LeasedHandler}): its lease ran out and
 * another delivery took the key over (or an operator reset it), so the store refused this run's write. What the
 * run did outside the database happened; it is not recorded as this run's. Do not acknowledge the message as
 * processed by this run: its redelivery gets the other run's outcome (a duplicate) or waits for it. Choose leases
 * longer than the work, or turn on {@link LeasedHandler.Builder#keepAlive}. A
 * {@link CommitOutcomeUnknownException}, so adapters treat it as one (don't ack, let it come back).
 */
public class LeaseLostException extends CommitOutcomeUnknownException {

    public LeaseLostException(String message) {
        super(message, null);
    }
}
