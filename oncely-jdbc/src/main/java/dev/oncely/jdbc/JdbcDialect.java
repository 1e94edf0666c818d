package dev.oncely.jdbc;

import dev.oncely.jdbc.internal.PostgresDialect;
import dev.oncely.jdbc.internal.SqlDialect;
import dev.oncely.jdbc.internal.TableName;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/** The databases {@link JdbcDedupStore} has a dialect for. */
public enum JdbcDialect {
    /** PostgreSQL 9.5 or later, and databases that speak its dialect (see docs/databases.md). */
    POSTGRESQL("PostgreSQL", PostgresDialect::new);

    private final String productName;
    private final Function<TableName, SqlDialect> factory;

    JdbcDialect(String productName, Function<TableName, SqlDialect> factory) {
        this.productName = productName;
        this.factory = factory;
    }

    SqlDialect create(TableName table) {
        return factory.apply(table);
    }

    /** The dialect for a JDBC {@code DatabaseMetaData.getDatabaseProductName()}, if there is one. */
    public static Optional<JdbcDialect> forProductName(String productName) {
        String name = productName == null ? "" : productName.toLowerCase(Locale.ROOT);
        if (name.contains("postgres")) {
            return Optional.of(POSTGRESQL);
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return productName;
    }
}
