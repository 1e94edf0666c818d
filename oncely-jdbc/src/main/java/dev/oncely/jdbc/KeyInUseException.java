package dev.oncely.jdbc;

import dev.oncely.TransientStoreException;

/**
 * {@link DedupTableAdmin#forget} refused a key because an open transaction holds its claim (the message is being
 * processed right now): forgetting it then could not stop that transaction from committing it a moment later.
 *
 * <p>What to do: try again once that transaction has ended; {@link DedupTableAdmin#explain} says when the key is no
 * longer in progress.
 */
public class KeyInUseException extends TransientStoreException {

    public KeyInUseException(String message) {
        super(message);
    }
}
