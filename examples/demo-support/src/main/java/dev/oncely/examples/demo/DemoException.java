package dev.oncely.examples.demo;

import dev.oncely.OncelyException;
import java.sql.SQLException;

/** A failure the user can fix (flag, database): a demo prints it as one line, no stack trace. */
public final class DemoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DemoException(String message) {
        super(message);
    }

    public DemoException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * What a demo's run throws for a failure: a database error or Oncely's own as a {@code DemoException} with its
     * message, any other unchecked exception as it is (a bug of the demo: its stack trace helps).
     */
    public static RuntimeException of(Exception e) {
        if (e instanceof SQLException) {
            return new DemoException("the database failed: " + e.getMessage(), e);
        }
        if (e instanceof OncelyException) {
            return new DemoException(e.getMessage(), e);
        }
        if (e instanceof RuntimeException unchecked) {
            return unchecked;
        }
        return new DemoException("the run failed: " + e, e);
    }
}
