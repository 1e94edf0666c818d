package dev.oncely.spring;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import javax.sql.DataSource;
import org.springframework.context.annotation.Bean;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.transaction.PlatformTransactionManager;

/**
 * The beans of a Spring test application on plain JDBC transactions: a pool on the test database, Spring's
 * JdbcTransactionManager and JdbcTemplate on it, and the claims table's store joining Spring's transactions. A test's
 * {@code @Configuration} extends it and adds its own beans.
 */
public abstract class JdbcTestAppConfig {

    private final int poolSize;
    private final String claimsTable;

    /**
     * @param poolSize    the most connections the application's pool opens
     * @param claimsTable the table of the claims, created if missing
     */
    protected JdbcTestAppConfig(int poolSize, String claimsTable) {
        this.poolSize = poolSize;
        this.claimsTable = claimsTable;
    }

    @Bean(destroyMethod = "close")
    public HikariDataSource dataSource(TestDatabase db) {
        return SpringTestApps.pool(db, poolSize);
    }

    @Bean
    public JdbcTransactionManager transactionManager(DataSource dataSource) {
        return new JdbcTransactionManager(dataSource);
    }

    @Bean
    public JdbcTemplate jdbcTemplate(DataSource dataSource) {
        return new JdbcTemplate(dataSource);
    }

    @Bean
    public JdbcDedupStore dedupStore(DataSource dataSource, PlatformTransactionManager transactionManager) {
        return SpringConnectionOwner.storeBuilder(dataSource, transactionManager).table(claimsTable).build()
                .createSchemaIfMissing();
    }
}
