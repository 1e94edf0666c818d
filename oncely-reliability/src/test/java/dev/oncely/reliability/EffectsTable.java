package dev.oncely.reliability;

import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.assertj.core.api.SoftAssertions;

/**
 * A scenario's own dedup table and business table. The business table has NO unique key, so a doubled effect
 * is a second row, visible to {@link #assertExactlyOnce}.
 */
final class EffectsTable {

    final TestDatabase db;
    final String effects;
    final String claims;

    EffectsTable(TestDatabase db, String scenario) {
        this.db = db;
        this.effects = "rel_" + scenario + "_effects";
        this.claims = "rel_" + scenario + "_claims";
    }

    /** Drops and recreates both tables; returns a store on the claims table. */
    JdbcDedupStore recreate(DataSource pool) {
        drop();
        String payload = db.kind().equals("postgresql") ? "text" : "varchar(1000)";
        Databases.execute(db, "CREATE TABLE " + effects + " (event_id varchar(255) NOT NULL, payload " + payload
                + ")");
        return store(pool).createSchemaIfMissing();
    }

    JdbcDedupStore store(DataSource pool) {
        return JdbcDedupStore.builder(pool).table(claims).build();
    }

    void drop() {
        Databases.execute(db, "DROP TABLE IF EXISTS " + effects, "DROP TABLE IF EXISTS " + claims);
    }

    /** The business write a handler makes: one row per effect. */
    void insert(Connection connection, String key, String payload) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO " + effects
                + " (event_id, payload) VALUES (?, ?)")) {
            ps.setString(1, key);
            ps.setString(2, payload);
            ps.executeUpdate();
        }
    }

    Map<String, Integer> effectCounts() {
        return counts("SELECT event_id, count(*) FROM " + effects + " GROUP BY event_id");
    }

    Map<String, Integer> claimCounts() {
        return counts("SELECT event_id, count(*) FROM " + claims + " GROUP BY event_id");
    }

    long effectRows() {
        return Databases.count(db, "SELECT count(*) FROM " + effects);
    }

    long claimRows() {
        return Databases.count(db, "SELECT count(*) FROM " + claims);
    }

    private Map<String, Integer> counts(String sql) {
        Map<String, Integer> counts = new HashMap<>();
        try (Connection c = Databases.connect(db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                counts.put(rs.getString(1), rs.getInt(2));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(sql + " failed: " + e.getMessage(), e);
        }
        return counts;
    }

    /**
     * Every expected key has exactly one effect and one claim; no other key has either.
     */
    void assertExactlyOnce(Set<String> expectedKeys) {
        assertExactlyOnce(expectedKeys, "");
    }

    /** {@link #assertExactlyOnce(Set)} among the keys that start with a prefix (one test's keys). */
    void assertExactlyOnce(Set<String> expectedKeys, String prefix) {
        Map<String, Integer> effectsByKey = effectCounts();
        Map<String, Integer> claimsByKey = claimCounts();
        effectsByKey.keySet().removeIf(k -> !k.startsWith(prefix));
        claimsByKey.keySet().removeIf(k -> !k.startsWith(prefix));
        long doubled = effectsByKey.values().stream().filter(n -> n > 1).count();
        long lost = expectedKeys.stream().filter(k -> !effectsByKey.containsKey(k)).count();
        SoftAssertions soft = new SoftAssertions();
        soft.assertThat(doubled).as("keys with more than one effect in " + effects).isZero();
        soft.assertThat(lost).as("keys with no effect in " + effects).isZero();
        soft.assertThat(effectsByKey.keySet()).as("keys with effects").isEqualTo(expectedKeys);
        soft.assertThat(claimsByKey.keySet()).as("keys with claims (no claim without its effect)")
                .isEqualTo(expectedKeys);
        soft.assertAll();
    }
}
