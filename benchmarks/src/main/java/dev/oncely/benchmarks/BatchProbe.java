package dev.oncely.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.jdbc.JdbcDedupStore;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Where a batch of 100 spends its time, one thread, PostgreSQL: the hand-written set-based statement, Oncely's batch
 * claim statement sent by hand (no Oncely code on the client), and {@code processBatch} with a batch handler, in
 * interleaved rounds. The difference between the last two is Oncely's client-side cost; between the first two, the
 * cost of the claim statement itself. Args: {@code url dupPercent rounds}.
 */
public final class BatchProbe {

    interface Run {
        void run(List<String> keys) throws Exception;
    }

    public static void main(String[] a) throws Exception {
        String url = a.length > 0 ? a[0] : "jdbc:postgresql://127.0.0.1:5432/oncely_bench";
        int dup = a.length > 1 ? Integer.parseInt(a[1]) : 100;
        int rounds = a.length > 2 ? Integer.parseInt(a[2]) : 5;
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername("postgres");
        config.setMaximumPoolSize(2);
        try (HikariDataSource pool = new HikariDataSource(config)) {
            exec(pool, "DROP TABLE IF EXISTS probe_hand, probe_oncely, probe_orders");
            exec(pool, "CREATE TABLE probe_orders (id bigserial PRIMARY KEY, consumer varchar(100) NOT NULL,"
                    + " event_id varchar(255) NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
            exec(pool, "CREATE TABLE probe_hand (consumer varchar(100) NOT NULL, event_id varchar(255) NOT NULL,"
                    + " processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id))");
            JdbcDedupStore store = JdbcDedupStore.builder(pool).table("probe_oncely").build().createSchemaIfMissing();
            for (String c : List.of("hand", "raw", "oncely")) {
                String t = c.equals("hand") ? "probe_hand" : "probe_oncely";
                exec(pool, "INSERT INTO " + t + " (consumer, event_id) SELECT '" + c + "', 's-' || g FROM generate_series(1, 10000) g");
            }
            exec(pool, "VACUUM ANALYZE probe_hand");
            exec(pool, "VACUUM ANALYZE probe_oncely");
            String pk = "probe_oncely_pkey";
            String t = "probe_oncely";
            String claimAllSql = "WITH ins AS (INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at,"
                    + " fingerprint) SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'),"
                    + " k.fingerprint FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                    + " ORDER BY k.ord ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING event_id, processed_at)"
                    + " SELECT event_id, true, processed_at, NULL::varchar, NULL::bytea, false FROM ins"
                    + " UNION ALL SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL (SELECT e.event_id, false,"
                    + " e.processed_at, e.fingerprint, CASE WHEN ?::boolean THEN e.result END, e.expires_at <= now()"
                    + " FROM " + t + " e WHERE e.consumer = ? AND e.event_id = w.event_id OFFSET 0) x"
                    + " WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.event_id = w.event_id)";
            String oneArraySql = "WITH k AS (SELECT * FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY"
                    + " AS k(event_id, fingerprint, ord)), ins AS (INSERT INTO " + t + " AS e (consumer, event_id,"
                    + " processed_at, expires_at, fingerprint) SELECT ?, k.event_id, now(), now() + (?::bigint"
                    + " * interval '1 millisecond'), k.fingerprint FROM k ORDER BY k.ord"
                    + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING event_id, processed_at)"
                    + " SELECT event_id, true, processed_at, NULL::varchar, NULL::bytea, false FROM ins"
                    + " UNION ALL SELECT x.* FROM k, LATERAL (SELECT e.event_id, false,"
                    + " e.processed_at, e.fingerprint, CASE WHEN ?::boolean THEN e.result END, e.expires_at <= now()"
                    + " FROM " + t + " e WHERE e.consumer = ? AND e.event_id = k.event_id OFFSET 0) x"
                    + " WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.event_id = k.event_id)";
            String lookSql = "WITH found AS (SELECT x.* FROM unnest(?::varchar[]) AS w(event_id), LATERAL"
                    + " (SELECT e.event_id, e.processed_at, e.fingerprint, CASE WHEN ?::boolean THEN e.result END AS result,"
                    + " e.expires_at <= now() AS expired FROM " + t + " e WHERE e.consumer = ? AND e.event_id = w.event_id"
                    + " OFFSET 0) x), ins AS (INSERT INTO " + t + " AS e (consumer, event_id, processed_at, expires_at,"
                    + " fingerprint) SELECT ?, k.event_id, now(), now() + (?::bigint * interval '1 millisecond'),"
                    + " k.fingerprint FROM unnest(?::varchar[], ?::varchar[]) WITH ORDINALITY AS k(event_id, fingerprint, ord)"
                    + " WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.event_id = k.event_id) ORDER BY k.ord"
                    + " ON CONFLICT ON CONSTRAINT " + pk + " DO NOTHING RETURNING event_id, processed_at)"
                    + " SELECT event_id, true, processed_at, NULL::varchar, NULL::bytea, false FROM ins"
                    + " UNION ALL SELECT event_id, false, processed_at, fingerprint, result, expired FROM found";
            IdempotentHandler<String, Void, SQLException> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("oncely").key(k -> k).batchHandler((keys, ctx) -> {
                        businessAll(ctx.unwrap(Connection.class), "oncely", keys);
                        return List.of();
                    }).build();
            Map<String, Run> variants = new LinkedHashMap<>();
            variants.put("hand", keys -> {
                String[] sorted = new TreeSet<>(keys).toArray(new String[0]);
                try (Connection c = pool.getConnection()) {
                    c.setAutoCommit(false);
                    try (PreparedStatement ps = c.prepareStatement("WITH claimed AS (INSERT INTO probe_hand"
                            + " (consumer, event_id) SELECT ?, k FROM unnest(?::varchar[]) WITH ORDINALITY AS u(k, o)"
                            + " ORDER BY o ON CONFLICT DO NOTHING RETURNING event_id)"
                            + " INSERT INTO probe_orders (consumer, event_id, amount)"
                            + " SELECT ?, event_id, length(event_id) FROM claimed")) {
                        ps.setString(1, "hand");
                        ps.setArray(2, c.createArrayOf("varchar", sorted));
                        ps.setString(3, "hand");
                        ps.executeUpdate();
                    }
                    c.commit();
                    c.setAutoCommit(true);
                }
            });
            variants.put("raw", keys -> raw(pool, "raw", claimAllSql, keys, (ps, c, arr) -> {
                ps.setString(1, "raw");
                ps.setNull(2, java.sql.Types.BIGINT);
                ps.setArray(3, arr);
                ps.setNull(4, java.sql.Types.ARRAY);
                ps.setArray(5, arr);
                ps.setBoolean(6, false);
                ps.setString(7, "raw");
            }));
            variants.put("raw1arr", keys -> raw(pool, "raw", oneArraySql, keys, (ps, c, arr) -> {
                ps.setArray(1, arr);
                ps.setNull(2, java.sql.Types.ARRAY);
                ps.setString(3, "raw");
                ps.setNull(4, java.sql.Types.BIGINT);
                ps.setBoolean(5, false);
                ps.setString(6, "raw");
            }));
            variants.put("rawlook", keys -> raw(pool, "raw", lookSql, keys, (ps, c, arr) -> {
                ps.setArray(1, arr);
                ps.setBoolean(2, false);
                ps.setString(3, "raw");
                ps.setString(4, "raw");
                ps.setNull(5, java.sql.Types.BIGINT);
                ps.setArray(6, arr);
                ps.setNull(7, java.sql.Types.ARRAY);
            }));
            variants.put("oncely", handler::processBatch);
            if (a.length > 3) {
                for (String v : variants.keySet()) {
                    for (int i = 0; i < 8; i++) {
                        variants.get(v).run(keys(v, dup));
                    }
                    java.util.logging.Logger.getLogger("org.postgresql").severe("=== " + v + " done");
                }
                return;
            }
            Map<String, Long> messages = new LinkedHashMap<>();
            Map<String, Long> nanos = new LinkedHashMap<>();
            for (int r = -1; r < rounds; r++) {
                List<String> order = new ArrayList<>(variants.keySet());
                if (r % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (String v : order) {
                    long start = System.nanoTime();
                    long n = 0;
                    while (System.nanoTime() - start < 1_000_000_000L) {
                        variants.get(v).run(keys(v, dup));
                        n += 100;
                    }
                    if (r >= 0) {
                        messages.merge(v, n, Long::sum);
                        nanos.merge(v, System.nanoTime() - start, Long::sum);
                    }
                }
            }
            double hand = messages.get("hand") * 1e9 / nanos.get("hand");
            for (String v : variants.keySet()) {
                double perSecond = messages.get(v) * 1e9 / nanos.get(v);
                System.out.printf("dup=%d%% %-8s %9.0f msg/s  %.3f ms/batch  %.2fx hand%n", dup, v, perSecond,
                        100_000 / perSecond, perSecond / hand);
            }
            exec(pool, "DROP TABLE IF EXISTS probe_hand, probe_oncely, probe_orders");
        }
    }

    interface Binder {
        void bind(PreparedStatement ps, Connection c, Array keys) throws SQLException;
    }

    private static void raw(HikariDataSource pool, String consumer, String sql, List<String> keys, Binder binder)
            throws SQLException {
        String[] sorted = new TreeSet<>(keys).toArray(new String[0]);
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            List<String> fresh = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                binder.bind(ps, c, c.createArrayOf("varchar", sorted));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String k = rs.getString(1);
                        if (rs.getBoolean(2)) {
                            fresh.add(k);
                        }
                        rs.getObject(3, java.time.OffsetDateTime.class);
                        rs.getString(4);
                        rs.getBytes(5);
                        rs.getBoolean(6);
                    }
                }
            }
            if (!fresh.isEmpty()) {
                businessAll(c, consumer, fresh);
            }
            c.commit();
            c.setAutoCommit(true);
        }
    }

    private static List<String> keys(String consumer, int dup) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        List<String> keys = new ArrayList<>(100);
        for (int i = 0; i < 100; i++) {
            keys.add(rnd.nextInt(100) < dup ? "s-" + (1 + rnd.nextInt(10000))
                    : Long.toHexString(rnd.nextLong()) + Long.toHexString(rnd.nextLong()));
        }
        return keys;
    }

    private static void businessAll(Connection c, String consumer, List<String> keys) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO probe_orders (consumer, event_id, amount)"
                + " SELECT ?, k, length(k) FROM unnest(?::varchar[]) AS k")) {
            ps.setString(1, consumer);
            ps.setArray(2, c.createArrayOf("varchar", keys.toArray(new String[0])));
            ps.executeUpdate();
        }
    }

    private static void exec(HikariDataSource pool, String sql) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
