package dev.oncely.spring;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;
import java.util.Map;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.core.env.MapPropertySource;
import org.springframework.jdbc.core.JdbcTemplate;

/** What the Spring test applications share: their pool, their tables made afresh, and how their context starts. */
public final class SpringTestApps {

    private SpringTestApps() {
    }

    /** A pool on the test database, at most {@code size} connections. */
    public static HikariDataSource pool(TestDatabase db, int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(size);
        return new HikariDataSource(config);
    }

    /**
     * Drops the tables, in the order given (a previous run's rows would be counted), then runs the CREATE
     * statements, on a connection of its own.
     */
    public static void recreateTables(TestDatabase db, Iterable<String> dropped, String... creates) {
        try (HikariDataSource setup = pool(db, 1)) {
            JdbcTemplate ddl = new JdbcTemplate(setup);
            for (String table : dropped) {
                ddl.execute("DROP TABLE IF EXISTS " + table);
            }
            for (String create : creates) {
                ddl.execute(create);
            }
        }
    }

    /** The configuration's context, started, with the test database as a bean and the properties it reads. */
    public static AnnotationConfigApplicationContext start(Class<?> configuration, TestDatabase db,
            Map<String, Object> properties) {
        AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("test", properties));
        context.registerBean(TestDatabase.class, () -> db);
        context.register(configuration);
        context.refresh();
        return context;
    }
}
