package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.DedupStore;
import dev.oncely.testkit.OpenTransaction;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The MariaDB store against the whole conformance suite, on a real MariaDB (InnoDB), and what only MariaDB asks: an
 * exact collation, and a lock wait timeout retried. Run at each isolation level by {@link MariaDbStoreContractTest},
 * and with the MYSQL dialect by {@link MySqlDialectOnMariaDbStoreContractTest}.
 */
abstract class MariaDbStoreContractTestBase extends JdbcStoreContractTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.mariadb();

    @Override
    protected TestDatabase database() {
        return DB.database();
    }

    @Override
    protected JdbcDedupStoreBuilder storeBuilder(DataSource dataSource, String table) {
        return JdbcDedupStore.builder(dataSource).table(table); // dialect detected from the product name
    }

    /** 4-byte keys need utf8mb4; a binary no-pad collation so the effects count what the claims count. */
    @Override
    protected String effectsDdl() {
        return super.effectsDdl() + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
    }

    @Test
    void theDialectIsDetectedAndTheTableIsInnoDbWithAnExactCollation() throws Exception {
        JdbcDedupStore store = (JdbcDedupStore) store();
        assertThat(store.describe()).startsWith("MariaDB store on ");
        try (Connection c = dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT engine, table_collation FROM information_schema.tables"
                        + " WHERE table_schema = DATABASE() AND table_name = 'processed_events'")) {
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("InnoDB");
                assertThat(rs.getString(2)).isEqualTo("utf8mb4_nopad_bin");
            }
        }
    }

    @Test
    void keysDifferingOnlyInCaseOrTrailingSpacesAreDifferentKeys() throws Exception {
        IdempotentHandler<Msg, String, ?> h = IdempotentHandler.<Msg, String>builder(store()).consumer("billing")
                .key(Msg::key).handler((m, ctx) -> {
                    recordEffect(ctx);
                    return null;
                }).build();
        for (String key : List.of("order-1", "Order-1", "order-1 ", "order-1  ")) {
            assertThat(h.process(new Msg(key, "p")).isProcessed()).as("'" + key + "'").isTrue();
        }
        assertThat(h.process(new Msg("order-1 ", "p")).isDuplicate()).isTrue();
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(4);
    }

    @Test
    void aLockWaitTimeoutIsRetriedAndWithoutRetriesFailsSayingItIsTransient() throws Exception {
        store(); // tables in place and empty
        String url = database().jdbcUrl() + (database().jdbcUrl().contains("?") ? "&" : "?")
                + "sessionVariables=innodb_lock_wait_timeout=1";
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(database().user());
        config.setPassword(database().password());
        config.setMaximumPoolSize(2);
        try (HikariDataSource impatient = new HikariDataSource(config)) {
            JdbcDedupStore retrying = JdbcDedupStore.builder(impatient).maxRetries(3).build();
            JdbcDedupStore once = JdbcDedupStore.builder(impatient).maxRetries(0).build();
            IdempotentHandler<Msg, String, ?> holder = handler(store());

            try (OpenTransaction tx = beginTransaction()) {
                assertThat(holder.processIn(tx.transaction(), new Msg("held-1", "p")).isProcessed()).isTrue();
                assertThatThrownBy(() -> handler(once).process(new Msg("held-1", "p")))
                        .isInstanceOf(OncelyException.class)
                        .hasMessageContaining("transient")
                        .hasMessageContaining("error 1205")
                        .hasRootCauseInstanceOf(SQLException.class);

                // Released after more than one lock wait timeout: the first attempt times out, a retry sees it.
                CompletableFuture<Void> release = CompletableFuture.runAsync(() -> {
                    try {
                        Thread.sleep(1500);
                        tx.commit();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                Outcome<String> late = handler(retrying).process(new Msg("held-1", "p"));
                release.get(30, TimeUnit.SECONDS);
                assertThat(late.isDuplicate()).as("retried after 1205, then saw the committed claim").isTrue();
            }
        }
        assertThat(effects("billing", "held-1")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    private IdempotentHandler<Msg, String, ?> handler(DedupStore store) {
        return IdempotentHandler.<Msg, String>builder(store).consumer("billing").key(Msg::key)
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    return null;
                }).build();
    }
}
