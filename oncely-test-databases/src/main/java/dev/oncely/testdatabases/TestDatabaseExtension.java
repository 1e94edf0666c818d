package dev.oncely.testdatabases;

import java.util.function.Supplier;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that finds a test database with {@link TestDatabases} before the class runs and fails
 * the class (never skips it) if there is none.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final TestDatabaseExtension db = TestDatabaseExtension.postgres();
 * ... db.database().jdbcUrl() ...
 * }</pre>
 *
 * Test methods and constructors may also take a {@link TestDatabase} parameter.
 */
public final class TestDatabaseExtension implements BeforeAllCallback, ParameterResolver {

    private final Supplier<TestDatabase> resolver;
    private volatile TestDatabase database;

    private TestDatabaseExtension(Supplier<TestDatabase> resolver) {
        this.resolver = resolver;
    }

    public static TestDatabaseExtension postgres() {
        return new TestDatabaseExtension(TestDatabases::postgres);
    }

    public static TestDatabaseExtension mariadb() {
        return new TestDatabaseExtension(TestDatabases::mariadb);
    }

    /** The database found; resolves it now if the class has not started yet. */
    public TestDatabase database() {
        TestDatabase db = database;
        if (db == null) {
            db = resolver.get();
            database = db;
        }
        return db;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        database();
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == TestDatabase.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return database();
    }
}
