package dev.oncely.jdbc;

import dev.oncely.CallerTransaction;
import java.sql.Connection;
import java.util.Objects;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * Your open Jdbi handle as a {@link CallerTransaction}: the claim joins its transaction, and handlers reach the
 * same handle (with your registered mappers and plugins) through {@code context.unwrap(Handle.class)}.
 *
 * <pre>{@code
 * jdbi.useTransaction(handle -> handler.processIn(JdbiCallerTransaction.of(handle), message));
 * }</pre>
 */
public final class JdbiCallerTransaction implements CallerTransaction {

    private final Handle handle;

    private JdbiCallerTransaction(Handle handle) {
        this.handle = handle;
    }

    public static JdbiCallerTransaction of(Handle handle) {
        return new JdbiCallerTransaction(Objects.requireNonNull(handle, "handle"));
    }

    @Override
    public <T> Optional<T> unwrap(Class<T> type) {
        if (type == Handle.class) {
            return Optional.of(type.cast(handle));
        }
        if (type == Connection.class) {
            return Optional.of(type.cast(handle.getConnection()));
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "JdbiCallerTransaction[" + handle + "]";
    }
}
