package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;

/** The public ConnectionOwner SPI and JdbcDedupStoreBuilder#connections, on an in-memory H2. */
class ConnectionOwnerSpiTest {

    private final JdbcDataSource dataSource = new JdbcDataSource();
    private final List<String> calls = new ArrayList<>();

    ConnectionOwnerSpiTest() {
        dataSource.setURL("jdbc:h2:mem:oncely_owner_spi;DB_CLOSE_DELAY=-1");
    }

    /** Transactions on connections of the DataSource, recording what the runner calls. */
    private final ConnectionOwner recording = new ConnectionOwner() {
        @Override
        public Lease acquire() throws SQLException {
            calls.add("acquire");
            Connection connection = dataSource.getConnection();
            return new Lease(connection) {
                @Override
                public void begin() throws SQLException {
                    calls.add("begin");
                    connection().setAutoCommit(false);
                }

                @Override
                public void commit() throws SQLException {
                    calls.add("commit");
                    connection().commit();
                }

                @Override
                public void rollback() throws SQLException {
                    calls.add("rollback");
                    connection().rollback();
                }

                @Override
                public void close() {
                    calls.add("close");
                    try {
                        connection().close();
                    } catch (SQLException e) {
                        throw new IllegalStateException(e);
                    }
                }
            };
        }
    };

    @Test
    void theStoreRunsItsTransactionsThroughTheConnectionOwnerItWasGiven() throws Exception {
        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table("owner_spi_events").connections(recording)
                .build().createSchemaIfMissing();
        assertThat(store.connections()).isSameAs(recording);
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                .consumer("spi").key(m -> m).handler((m, ctx) -> null).build();

        assertThat(handler.process("a").isProcessed()).isTrue();
        assertThat(calls).contains("acquire", "begin", "commit", "close").doesNotContain("rollback");
        assertThat(handler.process("a").isDuplicate()).isTrue();
    }

    @Test
    void purgesAndSchemaCreationRunOnTheBuildersDataSourceNotOnTheGivenOwner() {
        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table("owner_spi_purged").connections(recording)
                .build().createSchemaIfMissing();
        store.purgeExpired(100);
        assertThat(calls).isEmpty();
    }

    @Test
    void connectionsRefusesNull() {
        assertThatThrownBy(() -> JdbcDedupStore.builder(dataSource).connections(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("connections is null");
    }
}
