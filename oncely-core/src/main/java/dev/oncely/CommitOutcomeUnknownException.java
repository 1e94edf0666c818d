package dev.oncely;

/**
 * The connection to the database was lost while the transaction was being committed, so nobody can tell from the
 * caller's side whether the claim and the business writes committed: they either both did or both did not.
 *
 * <p>What to do: do not acknowledge the message. Its redelivery is then either processed (the commit did not
 * happen) or reported as a duplicate (it did); either way the effects exist exactly once. Never treat this as a
 * success, and never as a certain failure of effects outside the transaction (they may have happened).
 */
public class CommitOutcomeUnknownException extends OncelyException {

    public CommitOutcomeUnknownException(String message, Throwable cause) {
        super(message, cause);
    }
}
