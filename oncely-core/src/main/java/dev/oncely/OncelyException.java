package dev.oncely;

/**
 * The root of every failure Oncely itself reports. Its subtypes say what to do, so a caller or a broker adapter
 * can settle a message without reading the text:
 *
 * <table>
 *   <caption>What each failure means and what to do with the message</caption>
 *   <tr><th>type</th><th>meaning</th><th>what to do</th></tr>
 *   <tr><td>{@link TransientStoreException}</td><td>the database was unreachable, lost the connection before the
 *       commit, timed out, or kept demanding retries; nothing was committed</td><td>do not acknowledge; retry or
 *       requeue later, with a delay</td></tr>
 *   <tr><td>{@link CommitOutcomeUnknownException}</td><td>the connection was lost during the commit: the claim and
 *       the business writes either both committed or both did not</td><td>do not acknowledge; the redelivery is
 *       processed once or reported as a duplicate</td></tr>
 *   <tr><td>{@link PayloadConflictException}</td><td>the key was processed before with another payload</td>
 *       <td>dead-letter the message and fix the producer's key</td></tr>
 *   <tr><td>{@link InvalidMessageException}</td><td>the message has no usable key (missing, blank, too long, not
 *       a valid string)</td><td>dead-letter the message; retrying cannot help</td></tr>
 *   <tr><td>{@link MisconfigurationException}</td><td>the store or handler is set up wrongly (table or column
 *       missing, permission denied, a codec that cannot decode what is stored, a transaction that cannot be
 *       joined)</td><td>stop consuming and fix the configuration; retrying every message would loop</td></tr>
 * </table>
 *
 * <p>An exception thrown by <em>your</em> handler is never wrapped: it reaches the caller as the same instance,
 * after the transaction has been rolled back. Invalid builder input is an {@link IllegalArgumentException} at
 * {@code build()} or at the setter, never an {@code OncelyException}.
 *
 * <p>Messages are part of the API: they say what went wrong and what to do about it.
 */
public abstract class OncelyException extends RuntimeException {

    protected OncelyException(String message) {
        super(message);
    }

    protected OncelyException(String message, Throwable cause) {
        super(message, cause);
    }
}
