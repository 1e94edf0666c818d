package dev.oncely.spring.boot;

import dev.oncely.RetentionPurger;
import dev.oncely.jdbc.JdbcDedupStore;
import java.sql.Connection;
import java.sql.Statement;
import javax.sql.DataSource;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Up when the claims table answers a query on a connection of the DataSource; the purger's state (running, runs,
 * failed runs, keys purged, last failure) as details when one is configured. A purger whose last run failed does not
 * turn the health down: it retries at its next run, and claims keep working.
 */
public final class OncelyHealthIndicator extends AbstractHealthIndicator {

    private final JdbcDedupStore store;
    private final DataSource dataSource;
    private final RetentionPurgerLifecycle purger;

    public OncelyHealthIndicator(JdbcDedupStore store, DataSource dataSource, RetentionPurgerLifecycle purger) {
        super("Oncely health check failed");
        this.store = store;
        this.dataSource = dataSource;
        this.purger = purger;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) throws Exception {
        builder.withDetail("store", store.describe()).withDetail("table", store.tableName());
        // The table name passed the store's identifier check at build(): safe to write into SQL.
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(5);
            statement.executeQuery("SELECT 1 FROM " + store.tableName() + " WHERE 1 = 0").close();
        }
        if (purger != null) {
            RetentionPurger p = purger.purger();
            builder.withDetail("purger.running", p.isRunning())
                    .withDetail("purger.runs", p.runs())
                    .withDetail("purger.failedRuns", p.failedRuns())
                    .withDetail("purger.purgedKeys", p.purgedKeys());
            p.lastFailure().ifPresent(f -> builder.withDetail("purger.lastFailure", f.getMessage()));
        } else {
            builder.withDetail("purger", "not configured (oncely.purger.enabled=false)");
        }
        builder.up();
    }
}
