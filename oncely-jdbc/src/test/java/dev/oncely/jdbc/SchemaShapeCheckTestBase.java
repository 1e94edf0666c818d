package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.MisconfigurationException;
import dev.oncely.ProcessingContext;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A table that lacks a column Oncely reads or writes (or does not exist) is reported by the first process(), before
 * anything commits: no business effect, a {@link MisconfigurationException} naming the column, the DDL resource and
 * docs/upgrading.md. Before this check, a table without {@code result} took the first delivery and its effect, and
 * failed every redelivery, so the message could never be acknowledged. Each database and layout extends this.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SchemaShapeCheckTestBase {

    private static final String EFFECTS = "shape_effects";

    private final Supplier<TestDatabase> db;
    private final String ddlResource;
    private final String table;
    private HikariDataSource pool;

    /**
     * @param db          the database under test
     * @param ddlResource the classpath resource the store's DDL comes from, which the messages must name
     * @param table       the table under test, distinct per subclass sharing a database
     */
    protected SchemaShapeCheckTestBase(Supplier<TestDatabase> db, String ddlResource, String table) {
        this.db = db;
        this.ddlResource = ddlResource;
        this.table = table;
    }

    protected TestDatabase database() {
        return db.get();
    }

    protected String ddlResource() {
        return ddlResource;
    }

    protected String table() {
        return table;
    }

    /** A store builder on the table, with the subclass's layout. */
    protected JdbcDedupStoreBuilder builder(DataSource dataSource) {
        return JdbcDedupStore.builder(dataSource).table(table());
    }

    /** Tables to drop besides the dedup table. */
    protected String[] extraTables() {
        return new String[0];
    }

    /** Runs after the altered DDL was applied (the partitioned layout creates its partitions here). */
    protected void afterDdl(JdbcDedupStore store) {
    }

    protected DataSource pool() {
        if (pool == null) {
            pool = TestPools.pool(database(), 4, "TRANSACTION_READ_COMMITTED", true);
        }
        return pool;
    }

    @BeforeEach
    void dropTables() throws SQLException {
        execute("DROP TABLE IF EXISTS " + table());
        for (String extra : extraTables()) {
            execute("DROP TABLE IF EXISTS " + extra);
        }
        execute("DROP TABLE IF EXISTS " + EFFECTS);
        execute("CREATE TABLE " + EFFECTS + " (consumer varchar(200) NOT NULL, event_id varchar(510) NOT NULL)");
    }

    @AfterAll
    void closePool() throws SQLException {
        if (pool != null) {
            dropTables();
            execute("DROP TABLE IF EXISTS " + EFFECTS);
            pool.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"consumer", "event_id", "processed_at", "expires_at", "fingerprint", "result"})
    void aTableMissingAColumnFailsTheFirstProcessBeforeItsEffectCommits(String column) throws Exception {
        JdbcDedupStore store = storeWithout(column);
        IdempotentHandler<String, Void, ?> handler = handler(store);

        assertThatThrownBy(() -> handler.process("order-1"))
                .isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("lacks the column " + column)
                .hasMessageContaining(ddlResource())
                .hasMessageContaining("docs/upgrading.md");
        assertThat(effects()).as("no business effect committed").isZero();
        assertThatThrownBy(() -> handler.process("order-1")).as("the redelivery is told the same")
                .isInstanceOf(MisconfigurationException.class).hasMessageContaining("lacks the column " + column);
        assertThat(effects()).isZero();
    }

    @Test
    void aTableMissingAColumnFailsTheFirstProcessInTheCallersTransactionToo() throws Exception {
        IdempotentHandler<String, Void, ?> handler = handler(storeWithout("result"));
        try (Connection c = pool().getConnection()) {
            c.setAutoCommit(false);
            assertThatThrownBy(() -> handler.processIn(JdbcTransactions.of(c), "order-1"))
                    .isInstanceOf(MisconfigurationException.class).hasMessageContaining("lacks the column result");
            c.rollback();
        }
        assertThat(effects()).isZero();
    }

    @Test
    void aMissingTableFailsTheFirstProcessBeforeItsEffectCommits() throws Exception {
        JdbcDedupStore store = builder(pool()).build();
        assertThatThrownBy(() -> handler(store).process("order-1"))
                .isInstanceOf(MisconfigurationException.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining(ddlResource());
        assertThat(effects()).isZero();
    }

    @Test
    void aCompleteTableIsCheckedOnceNotPerMessage() throws Exception {
        builder(pool()).build().createSchemaIfMissing();
        RecordingDataSource recording = new RecordingDataSource(pool());
        IdempotentHandler<String, Void, ?> handler = handler(builder(recording).build());

        assertThat(handler.process("order-1").isProcessed()).isTrue();
        int afterFirst = recording.statementsCreated.get();
        assertThat(afterFirst).as("the first process() checks the table").isPositive();
        for (int i = 2; i <= 5; i++) {
            assertThat(handler.process("order-" + i).isProcessed()).isTrue();
        }
        assertThat(handler.process("order-1").isDuplicate()).isTrue();
        assertThat(recording.statementsCreated.get()).as("no check after the first success").isEqualTo(afterFirst);
        assertThat(effects()).isEqualTo(5);
    }

    /** As {@link #storeWithout(String)}, for subclasses. */
    protected JdbcDedupStore storeWithoutColumn(String column) throws SQLException {
        return storeWithout(column);
    }

    protected IdempotentHandler<String, Void, ?> handlerOn(JdbcDedupStore store) {
        return handler(store);
    }

    protected long effectCount() throws SQLException {
        return effects();
    }

    /** The store's DDL with {@code column} renamed in the dedup table, so the table lacks it under its name. */
    private JdbcDedupStore storeWithout(String column) throws SQLException {
        JdbcDedupStore store = builder(pool()).build();
        Pattern name = Pattern.compile("\\b" + column + "\\b");
        try (Connection c = pool().getConnection(); Statement st = c.createStatement()) {
            for (String sql : dev.oncely.jdbc.internal.Ddl.statements(store.ddl())) {
                boolean otherTable = sql.contains(table() + "_partitions");
                st.execute(otherTable ? sql : name.matcher(sql).replaceAll(column + "_gone"));
            }
        }
        afterDdl(store);
        return store;
    }

    private IdempotentHandler<String, Void, ?> handler(JdbcDedupStore store) {
        return IdempotentHandler.<String, Void>builder(store).consumer("shape").key(k -> k)
                .handler((key, ctx) -> {
                    recordEffect(ctx);
                    return null;
                }).build();
    }

    private static void recordEffect(ProcessingContext ctx) throws SQLException {
        try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement("INSERT INTO " + EFFECTS
                + " (consumer, event_id) VALUES (?, ?)")) {
            ps.setString(1, ctx.consumer());
            ps.setString(2, ctx.key());
            ps.executeUpdate();
        }
    }

    private long effects() throws SQLException {
        try (Connection c = pool().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM " + EFFECTS)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    protected void execute(String sql) throws SQLException {
        try (Connection c = pool().getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
