package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import dev.oncely.ResultCodec;
import dev.oncely.spi.ClaimRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The admin API ({@link DedupTableAdmin}) against one database; each database's subclass says how to reach it and
 * what its layout can do.
 */
abstract class DedupTableAdminTestBase {

    private final Supplier<DataSource> dataSource;
    private final String table;

    /**
     * @param dataSource the pool every store of the test uses
     * @param table      the table name of this test class
     */
    protected DedupTableAdminTestBase(Supplier<DataSource> dataSource, String table) {
        this.dataSource = dataSource;
        this.table = table;
    }

    protected DataSource dataSource() {
        return dataSource.get();
    }

    /** A store on {@code table}, table created; time-partitioned where the subclass says so. */
    protected JdbcDedupStore store(String table) {
        return JdbcDedupStore.builder(dataSource()).table(table).build().createSchemaIfMissing();
    }

    /** Whether a purge deletes expired rows one by one (false: the time-partitioned layout drops partitions). */
    protected boolean purgesRows() {
        return true;
    }

    protected String table() {
        return table;
    }

    protected JdbcDedupStore store;
    protected DedupTableAdmin admin;
    private final AtomicInteger runs = new AtomicInteger();

    @BeforeEach
    void freshTable() throws Exception {
        store = store(table());
        sql("DELETE FROM " + table());
        admin = store.admin();
        runs.set(0);
    }

    protected void sql(String statement) throws Exception {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute(statement);
        }
    }

    private IdempotentHandler<String, String, ?> handler(String consumer) {
        return IdempotentHandler.<String, String>builder(store).consumer(consumer).key(k -> k)
                .retention(Duration.ofHours(1))
                .fingerprint(k -> k.getBytes(StandardCharsets.UTF_8))
                .resultCodec(ResultCodec.utf8())
                .handler((k, tx) -> {
                    runs.incrementAndGet();
                    return "result of " + k; // 13 bytes for a 3-character key
                }).build();
    }

    private void expire(String key) throws Exception {
        // A literal in the past is portable, and on MariaDB it is read in UTC like expires_at itself.
        sql("UPDATE " + table() + " SET expires_at = TIMESTAMP '2000-01-01 00:00:00' WHERE event_id = '" + key + "'");
    }

    @Test
    void explainShowsAProcessedKeyWithItsTimesResultSizeAndFingerprint() throws Exception {
        Instant before = Instant.now().minusSeconds(60);
        handler("billing").process("k-1");

        KeyInfo info = admin.explain("billing", "k-1").orElseThrow();

        assertThat(info.state()).isEqualTo(KeyInfo.State.PROCESSED);
        assertThat(info.firstProcessedAt()).hasValueSatisfying(t -> assertThat(t).isAfter(before));
        // retention is an hour after processed_at, by the database clock
        assertThat(Duration.between(info.firstProcessedAt().orElseThrow(), info.expiresAt().orElseThrow())
                .truncatedTo(ChronoUnit.MINUTES)).isEqualTo(Duration.ofHours(1));
        assertThat(info.resultBytes()).hasValue("result of k-1".length());
        assertThat(info.fingerprintPresent()).isTrue();
    }

    @Test
    void explainShowsAnExpiredKeyAsExpired() throws Exception {
        handler("billing").process("k-2");
        expire("k-2");

        KeyInfo info = admin.explain("billing", "k-2").orElseThrow();

        assertThat(info.state()).isEqualTo(KeyInfo.State.EXPIRED);
        assertThat(info.expiresAt()).hasValueSatisfying(t -> assertThat(t).isBefore(Instant.parse("2000-01-02T00:00:00Z")));
    }

    @Test
    void explainOfAKeyTheTableDoesNotHoldIsEmpty() throws Exception {
        handler("billing").process("k-3");

        assertThat(admin.explain("billing", "no-such-key")).isEmpty();
        assertThat(admin.explain("no-such-consumer", "k-3")).isEmpty();
        // explain wrote nothing: its probe claim was rolled back
        assertThat(admin.counts()).containsExactly(new ConsumerCounts("billing", 1, 0));
    }

    @Test
    void forgetDeletesTheKeySoItsNextDeliveryIsProcessedAgain() throws Exception {
        IdempotentHandler<String, String, ?> h = handler("billing");
        assertThat(h.process("k-4").isProcessed()).isTrue();
        assertThat(h.process("k-4").isProcessed()).isFalse();

        assertThat(admin.forget("billing", "k-4")).isTrue();

        assertThat(admin.explain("billing", "k-4")).isEmpty();
        assertThat(h.process("k-4").isProcessed()).isTrue();
        assertThat(runs).hasValue(2);
        assertThat(admin.forget("billing", "never-seen")).isFalse();
    }

    @Test
    void forgetRefusesAKeyWhoseClaimAnOpenTransactionHolds() throws Exception {
        handler("billing").process("k-5");
        try (Connection held = dataSource().getConnection()) {
            held.setAutoCommit(false);
            // Another worker is processing k-6 right now: its claim is not committed.
            store.inCallerTransaction(JdbcTransactions.of(held), tx -> tx.claim(
                    new ClaimRequest("billing", "k-6", Optional.empty(), Optional.of(Duration.ofHours(1)), false)));

            assertThatThrownBy(() -> admin.forget("billing", "k-6"))
                    .isInstanceOf(KeyInUseException.class)
                    .hasMessageContaining("k-6")
                    .hasMessageContaining("held by an open transaction")
                    .hasMessageContaining("Try again after it ends");
            assertThat(admin.explain("billing", "k-6")).hasValueSatisfying(info -> {
                assertThat(info.state()).isEqualTo(KeyInfo.State.IN_PROGRESS);
                assertThat(info.firstProcessedAt()).isEmpty();
            });
            // A key nobody holds is not held up by the open transaction.
            assertThat(admin.explain("billing", "k-5").orElseThrow().state()).isEqualTo(KeyInfo.State.PROCESSED);

            held.rollback();
        }
        assertThat(admin.explain("billing", "k-6")).isEmpty();
        assertThat(admin.forget("billing", "k-6")).isFalse();
    }

    @Test
    void forgetRefusesAnExpiredKeyThatAnOpenTransactionIsReclaiming() throws Exception {
        handler("billing").process("k-7");
        expire("k-7");
        try (Connection held = dataSource().getConnection()) {
            held.setAutoCommit(false);
            reclaimWithoutCommitting(held, "billing", "k-7");

            assertThatThrownBy(() -> admin.forget("billing", "k-7")).isInstanceOf(KeyInUseException.class);
            assertThat(admin.explain("billing", "k-7").orElseThrow().state()).isEqualTo(KeyInfo.State.IN_PROGRESS);
            held.rollback();
        }
        assertThat(admin.explain("billing", "k-7").orElseThrow().state()).isEqualTo(KeyInfo.State.EXPIRED);
        assertThat(admin.forget("billing", "k-7")).isTrue();
    }

    @Test
    void countsShowKeysPerConsumerWithTheExpiredBacklog() throws Exception {
        handler("billing").process("a-1");
        handler("billing").process("a-2");
        handler("billing").process("a-3");
        handler("shipping").process("b-1");
        expire("a-1");
        expire("a-2");

        assertThat(admin.counts()).containsExactly(
                new ConsumerCounts("billing", 3, 2),
                new ConsumerCounts("shipping", 1, 0));
    }

    @Test
    void purgeOnceRemovesExpiredKeysAndLeavesLiveOnes() throws Exception {
        handler("billing").process("p-1");
        handler("billing").process("p-2");
        handler("billing").process("p-3");
        expire("p-1");
        expire("p-2");

        if (purgesRows()) {
            assertThat(admin.purgeOnce(1)).isEqualTo(1);
            assertThat(admin.purgeOnce(100)).isEqualTo(1);
            assertThat(admin.counts()).containsExactly(new ConsumerCounts("billing", 1, 0));
        } else {
            // Partitions go whole, once all their keys expired and they stopped taking claims: not the current one.
            assertThat(admin.purgeOnce(100)).isZero();
            assertThat(admin.maintainPartitionsOnce()).isZero();
            assertThat(admin.counts()).containsExactly(new ConsumerCounts("billing", 3, 2));
        }
        assertThatThrownBy(() -> admin.purgeOnce(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void checkSchemaPassesOnTheShippedDdlAndNamesAMissingColumn() throws Exception {
        String table = table() + "_chk";
        dropTable(table); // a run stopped half-way may have left it without a column
        JdbcDedupStore checked = store(table);
        assertThat(checked.admin().checkSchema()).as("check of the shipped DDL").satisfies(c -> {
            assertThat(c.missingColumns()).as(c.toString()).isEmpty();
            assertThat(c.ok()).isTrue();
            assertThat(c.missingColumns()).isEmpty();
            assertThat(c.unexpectedColumns()).isEmpty();
        });
        assertThat(checked.admin().ddl()).isEqualTo(checked.ddl());

        sql("ALTER TABLE " + table + " DROP COLUMN fingerprint");
        try {
            SchemaCheck check = checked.admin().checkSchema();
            assertThat(check.ok()).isFalse();
            assertThat(check.tablePresent()).isTrue();
            assertThat(check.missingColumns()).containsExactly("fingerprint");
        } finally {
            dropTable(table);
        }
    }

    @Test
    void checkSchemaOfAMissingTableSaysItIsMissing() throws Exception {
        JdbcDedupStore missing = JdbcDedupStore.builder(dataSource()).table("oncely_admin_absent").build();

        SchemaCheck check = missing.admin().checkSchema();

        assertThat(check.tablePresent()).isFalse();
        assertThat(check.ok()).isFalse();
        assertThat(check.missingColumns()).contains("consumer", "event_id", "expires_at");
        assertThatThrownBy(() -> missing.admin().counts())
                .isInstanceOf(dev.oncely.MisconfigurationException.class)
                .hasMessageContaining("does not exist");
    }

    @Test
    void badInputIsRefusedWithWhatToDo() {
        assertThatThrownBy(() -> admin.explain(" ", "k")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("consumer");
        assertThatThrownBy(() -> admin.forget("billing", "")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("key");
        assertThatThrownBy(() -> admin.explain("billing", null)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Another worker reclaims an expired key on {@code held} and has not committed yet. */
    protected void reclaimWithoutCommitting(Connection held, String consumer, String key) throws Exception {
        store.inCallerTransaction(JdbcTransactions.of(held), tx -> tx.claim(
                new ClaimRequest(consumer, key, Optional.empty(), Optional.of(Duration.ofHours(1)), false)));
    }

    protected void dropTable(String table) throws Exception {
        sql("DROP TABLE IF EXISTS " + table);
    }

    static List<String> lines(String s) {
        return List.of(s.split("\n"));
    }
}
