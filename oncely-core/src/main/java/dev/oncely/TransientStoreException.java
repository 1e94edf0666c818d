package dev.oncely;

/**
 * The store failed in a way that is expected to pass: the database is unreachable or restarting, the pool timed
 * out, the connection was lost before the commit, a lock wait timed out, or the database kept demanding a retry
 * (serialization failure, deadlock) more often than the store retries. Nothing of the transaction was committed.
 *
 * <p>What to do: do not acknowledge the message; retry or requeue it later, with a delay (its redelivery is
 * processed normally once the database answers again).
 */
public class TransientStoreException extends OncelyException {

    public TransientStoreException(String message) {
        super(message);
    }

    public TransientStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
