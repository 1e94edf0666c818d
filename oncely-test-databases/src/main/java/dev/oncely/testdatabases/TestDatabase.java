package dev.oncely.testdatabases;

import java.util.Objects;

/**
 * Where a test database is: a JDBC URL with credentials, and how it was found.
 *
 * @param kind     "postgresql" or "mariadb"
 * @param jdbcUrl  the JDBC URL
 * @param user     the user name
 * @param password the password (may be empty)
 * @param source   how it was found: environment, Testcontainers or local service
 */
public record TestDatabase(String kind, String jdbcUrl, String user, String password, String source) {

    public TestDatabase {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(jdbcUrl, "jdbcUrl");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        Objects.requireNonNull(source, "source");
    }

    @Override
    public String toString() {
        return kind + " at " + jdbcUrl + " as " + user + " (" + source + ")";
    }
}
