package dev.oncely.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.spi.ClaimBatch;
import dev.oncely.spi.ClaimRequest;
import dev.oncely.spi.ClaimResult;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The PostgreSQL dialect's claims against a real table: both single-key claims (the INSERT alone; the INSERT and
 * the read in one statement), the read before a transaction ({@code findLive}), and both batch claims (insert
 * first, read first). Each pair must give the same answers; each is called directly, so that neither depends on which one the store's {@link ReadBeforeClaim} picks while the
 * conformance suite runs.
 */
class PostgresClaimPathTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    private static final String TABLE = "oncely_claim_path";
    private static final String CONSUMER = "c";

    @BeforeAll
    static void createTable() throws Exception {
        TestDatabase db = DB.database();
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(db.jdbcUrl());
        ds.setUser(db.user());
        ds.setPassword(db.password());
        JdbcDedupStore.builder(ds).table(TABLE).build().createSchemaIfMissing();
    }

    @AfterAll
    static void dropTable() throws Exception {
        try (Connection c = connect(); Statement st = c.createStatement()) {
            c.setAutoCommit(true);
            st.execute("DROP TABLE IF EXISTS " + TABLE);
        }
    }

    private static Connection connect() throws SQLException {
        TestDatabase db = DB.database();
        Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
        c.setAutoCommit(false);
        return c;
    }

    private static PostgresDialect dialect() {
        return new PostgresDialect(new TableName(Optional.empty(), TABLE));
    }

    private static ClaimResult claim(PostgresDialect dialect, Connection c, ClaimRequest request, boolean readFirst)
            throws SQLException {
        return readFirst ? dialect.claimReadingFirst(c, request) : dialect.claim(c, request);
    }

    private static java.util.List<ClaimResult> claimAll(PostgresDialect dialect, Connection c, ClaimBatch batch,
                                                        boolean readFirst) throws SQLException {
        return readFirst ? dialect.claimAllReadingFirst(c, batch) : dialect.claimAll(c, batch);
    }

    /** The requests as the one batch IdempotentHandler would send (they share consumer, retention, loading). */
    private static ClaimBatch batchOf(java.util.List<ClaimRequest> requests) {
        ClaimRequest first = requests.get(0);
        return new ClaimBatch(first.consumer(), first.retention(), first.loadResult(), requests.stream()
                .map(r -> new ClaimBatch.Key(r.key(), r.fingerprint())).toList());
    }

    private static ClaimRequest request(String key) {
        return new ClaimRequest(CONSUMER, key, Optional.of("fp-" + key), Optional.empty(), true);
    }

    private static ClaimResult claimAndCommit(PostgresDialect dialect, ClaimRequest request) throws SQLException {
        return claimAndCommit(dialect, request, false);
    }

    private static ClaimResult claimAndCommit(PostgresDialect dialect, ClaimRequest request, boolean readFirst)
            throws SQLException {
        try (Connection c = connect()) {
            ClaimResult result = claim(dialect, c, request, readFirst);
            c.commit();
            return result;
        }
    }

    /** Writes a claim of {@code key} that expired an hour ago, on {@code c}'s transaction. */
    private static void insertExpired(Connection c, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (consumer, event_id, processed_at,"
                + " expires_at) VALUES (?, ?, now() - interval '2 hours', now() - interval '1 hour')")) {
            ps.setString(1, CONSUMER);
            ps.setString(2, key);
            ps.executeUpdate();
        }
    }

    private static String key(String name) {
        return name + "-" + System.nanoTime();
    }

    @ParameterizedTest(name = "reading first: {0}")
    @ValueSource(booleans = {false, true})
    void aFreshKeyIsClaimedAndALiveOneComesBackWithItsTimeFingerprintAndResult(boolean readFirst) throws Exception {
        PostgresDialect dialect = dialect();
        String key = key("live");
        ClaimResult first;
        try (Connection c = connect()) {
            first = claim(dialect, c, request(key), readFirst);
            dialect.saveResults(c, CONSUMER, Map.of(key, "stored".getBytes(StandardCharsets.UTF_8)));
            c.commit();
        }
        assertThat(first.claimed()).isTrue();

        ClaimResult again = claimAndCommit(dialect, request(key), readFirst);

        assertThat(again.claimed()).isFalse();
        assertThat(again.processedAt()).isEqualTo(first.processedAt());
        assertThat(again.fingerprint()).contains("fp-" + key);
        assertThat(again.result()).hasValueSatisfying(r -> assertThat(new String(r, StandardCharsets.UTF_8))
                .isEqualTo("stored"));
    }

    @ParameterizedTest(name = "reading first: {0}")
    @ValueSource(booleans = {false, true})
    void aDuplicateDoesNotLoadTheResultUnlessAsked(boolean readFirst) throws Exception {
        PostgresDialect dialect = dialect();
        String key = key("noresult");
        try (Connection c = connect()) {
            claim(dialect, c, request(key), readFirst);
            dialect.saveResults(c, CONSUMER, Map.of(key, new byte[] {1}));
            c.commit();
        }
        ClaimResult again = claimAndCommit(dialect, new ClaimRequest(CONSUMER, key, Optional.empty(),
                Optional.empty(), false), readFirst);
        assertThat(again.claimed()).isFalse();
        assertThat(again.result()).isEmpty();
    }

    @ParameterizedTest(name = "reading first: {0}")
    @ValueSource(booleans = {false, true})
    void anExpiredKeyIsReclaimed(boolean readFirst) throws Exception {
        PostgresDialect dialect = dialect();
        String key = key("expired");
        try (Connection c = connect();
             PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (consumer, event_id, processed_at,"
                     + " expires_at, fingerprint) VALUES (?, ?, now() - interval '2 hours', now() - interval '1 hour',"
                     + " 'old')")) {
            ps.setString(1, CONSUMER);
            ps.setString(2, key);
            ps.executeUpdate();
            c.commit();
        }
        ClaimRequest request = new ClaimRequest(CONSUMER, key, Optional.of("new"), Optional.of(Duration.ofHours(1)),
                false);

        ClaimResult reclaimed = claimAndCommit(dialect, request, readFirst);
        ClaimResult again = claimAndCommit(dialect, request, readFirst);

        assertThat(reclaimed.claimed()).isTrue();
        assertThat(again.claimed()).isFalse();
        assertThat(again.processedAt()).isEqualTo(reclaimed.processedAt());
        assertThat(again.fingerprint()).contains("new");
    }

    @ParameterizedTest(name = "reading first: {0}")
    @ValueSource(booleans = {false, true})
    void aClaimWaitingOnAnOpenClaimOfTheSameKeyIsADuplicateIfItCommitsAndClaimsIfItRollsBack(boolean readFirst)
            throws Exception {
        PostgresDialect dialect = dialect();
        ExecutorService exec = Executors.newSingleThreadExecutor();
        try {
            for (boolean commit : new boolean[] {true, false}) {
                String key = key(commit ? "commits" : "rollsback");
                try (Connection first = connect()) {
                    ClaimResult winner = claim(dialect, first, request(key), readFirst);
                    assertThat(winner.claimed()).isTrue();
                    Future<ClaimResult> waiter = exec.submit(() -> claimAndCommit(dialect, request(key), readFirst));
                    // The second claim blocks on the first one's uncommitted row.
                    assertThatThrownBy(() -> waiter.get(300, TimeUnit.MILLISECONDS))
                            .isInstanceOf(TimeoutException.class);
                    if (commit) {
                        first.commit();
                    } else {
                        first.rollback();
                    }
                    ClaimResult second = waiter.get(10, TimeUnit.SECONDS);
                    assertThat(second.claimed()).as("claimed after the first %s", commit ? "committed" : "rolled back")
                            .isEqualTo(!commit);
                    if (commit) {
                        assertThat(second.processedAt()).isEqualTo(winner.processedAt());
                    }
                }
            }
        } finally {
            exec.shutdownNow();
        }
    }

    @Test
    void readFirstFindsOnlyACommittedLiveClaimAndNeverWaits() throws Exception {
        PostgresDialect dialect = dialect();
        assertThat(dialect.findsLiveClaims()).isTrue();
        String live = key("live");
        String expired = key("expired");
        String held = key("held");
        ClaimResult first;
        try (Connection c = connect()) {
            first = dialect.claim(c, request(live));
            dialect.saveResults(c, CONSUMER, Map.of(live, "stored".getBytes(StandardCharsets.UTF_8)));
            insertExpired(c, expired);
            c.commit();
        }
        assertThat(first.claimed()).isTrue();

        try (Connection reader = connect(); Connection holder = connect()) {
            reader.setAutoCommit(true);
            assertThat(dialect.claim(holder, request(held)).claimed()).isTrue(); // open, not committed

            Optional<ClaimResult> found = dialect.findLive(reader, request(live));
            assertThat(found).hasValueSatisfying(r -> {
                assertThat(r.claimed()).isFalse();
                assertThat(r.processedAt()).isEqualTo(first.processedAt());
                assertThat(r.fingerprint()).contains("fp-" + live);
                assertThat(r.result()).hasValueSatisfying(b -> assertThat(new String(b, StandardCharsets.UTF_8))
                        .isEqualTo("stored"));
            });
            assertThat(dialect.findLive(reader, new ClaimRequest(CONSUMER, live, Optional.empty(), Optional.empty(),
                    false))).hasValueSatisfying(r -> assertThat(r.result()).isEmpty());
            assertThat(dialect.findLive(reader, request(key("absent")))).isEmpty();
            assertThat(dialect.findLive(reader, request(expired))).as("expired: the claim decides").isEmpty();
            // Same thread as the holder: had the read waited for the open claim, this would never return.
            assertThat(dialect.findLive(reader, request(held))).as("not committed: the claim decides").isEmpty();
            holder.rollback();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aBatchClaimsFreshAndExpiredKeysAndReturnsLiveOnesWithTheirTimeFingerprintAndResult(boolean readFirst)
            throws Exception {
        PostgresDialect dialect = dialect();
        String live = key("b-live");
        String expired = key("b-expired");
        String fresh = key("b-fresh");
        ClaimResult first;
        try (Connection c = connect()) {
            first = dialect.claim(c, request(live));
            dialect.saveResults(c, CONSUMER, Map.of(live, "stored".getBytes(StandardCharsets.UTF_8)));
            insertExpired(c, expired);
            c.commit();
        }
        java.util.List<String> sorted = new java.util.ArrayList<>(java.util.List.of(live, expired, fresh));
        java.util.Collections.sort(sorted);

        java.util.List<ClaimResult> results;
        try (Connection c = connect()) {
            results = claimAll(dialect, c, batchOf(sorted.stream().map(PostgresClaimPathTest::request).toList()),
                    readFirst);
            c.commit();
        }

        Map<String, ClaimResult> byKey = new java.util.HashMap<>();
        for (int i = 0; i < sorted.size(); i++) {
            byKey.put(sorted.get(i), results.get(i));
        }
        assertThat(byKey.get(fresh).claimed()).isTrue();
        assertThat(byKey.get(expired).claimed()).as("expired: reclaimed").isTrue();
        ClaimResult dup = byKey.get(live);
        assertThat(dup.claimed()).isFalse();
        assertThat(dup.processedAt()).isEqualTo(first.processedAt());
        assertThat(dup.fingerprint()).contains("fp-" + live);
        assertThat(dup.result()).hasValueSatisfying(b -> assertThat(new String(b, StandardCharsets.UTF_8))
                .isEqualTo("stored"));
        try (Connection c = connect()) {
            assertThat(claimAll(dialect, c, batchOf(sorted.stream().map(PostgresClaimPathTest::request).toList()),
                    readFirst))
                    .as("all three are held now").noneMatch(ClaimResult::claimed);
            c.rollback();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aBatchWaitsOnAnOpenClaimOfOneOfItsKeys(boolean readFirst) throws Exception {
        PostgresDialect dialect = dialect();
        ExecutorService exec = Executors.newSingleThreadExecutor();
        try {
            for (boolean commit : new boolean[] {true, false}) {
                String contended = key(commit ? "b-commits" : "b-rollsback");
                String other = key("b-other" + commit);
                java.util.List<ClaimRequest> batch = java.util.stream.Stream.of(contended, other).sorted()
                        .map(PostgresClaimPathTest::request).toList();
                try (Connection first = connect()) {
                    ClaimResult winner = dialect.claim(first, request(contended));
                    Future<java.util.List<ClaimResult>> waiter = exec.submit(() -> {
                        try (Connection c = connect()) {
                            java.util.List<ClaimResult> r = claimAll(dialect, c, batchOf(batch), readFirst);
                            c.commit();
                            return r;
                        }
                    });
                    assertThatThrownBy(() -> waiter.get(300, TimeUnit.MILLISECONDS))
                            .isInstanceOf(TimeoutException.class);
                    if (commit) {
                        first.commit();
                    } else {
                        first.rollback();
                    }
                    java.util.List<ClaimResult> results = waiter.get(10, TimeUnit.SECONDS);
                    for (int i = 0; i < batch.size(); i++) {
                        boolean isContended = batch.get(i).key().equals(contended);
                        assertThat(results.get(i).claimed()).as("%s after the first %s", batch.get(i).key(),
                                commit ? "committed" : "rolled back").isEqualTo(!isContended || !commit);
                        if (isContended && commit) {
                            assertThat(results.get(i).processedAt()).isEqualTo(winner.processedAt());
                        }
                    }
                }
            }
        } finally {
            exec.shutdownNow();
        }
    }
}
