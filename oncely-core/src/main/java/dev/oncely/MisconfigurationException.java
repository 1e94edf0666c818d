package dev.oncely;

/**
 * The store or the handler is set up wrongly, so every message would fail the same way: the table or one of its
 * columns is missing, the database user lacks a permission, the result codec cannot decode a stored result, the
 * transaction handed to {@code processIn} cannot be joined (autocommit on, another store's), or a store broke its
 * contract. Whatever the transaction wrote was rolled back.
 *
 * <p>What to do: stop consuming (or park the message) and fix the configuration the message names; requeueing
 * would only loop. The message says what to change.
 */
public class MisconfigurationException extends OncelyException {

    public MisconfigurationException(String message) {
        super(message);
    }

    public MisconfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
