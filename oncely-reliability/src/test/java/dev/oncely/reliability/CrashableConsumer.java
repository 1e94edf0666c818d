package dev.oncely.reliability;

import com.zaxxer.hikari.HikariConfig;
import dev.oncely.jdbc.Database;
import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.OncelyException;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The consumer process that scenario 4 and the soak kill with SIGKILL. It consumes its partition of a durable
 * "broker" (a table of messages; acknowledging a message deletes its row, after {@code process()} returned) through
 * an {@link IdempotentHandler} whose effect is a row in a business table without a unique key, and exits 0 when
 * its partition is empty.
 *
 * <p>It writes where it is ({@link Phase}) and what it counted into a small memory-mapped file, so that the
 * parent can tell at which point it killed the process and sum the counts over every incarnation.
 *
 * <p>Arguments: brokerTable effectsTable claimsTable partition partitions statusFile handlerFailurePermille
 * [exitWhenEmpty]. The database comes from the environment: ONCELY_CHILD_URL, ONCELY_CHILD_USER,
 * ONCELY_CHILD_PASSWORD, ONCELY_CHILD_APP (the application_name the parent terminates backends by).
 */
public final class CrashableConsumer {

    /** Where the process is; byte 0 of the status file. */
    enum Phase {
        STARTING, FETCHING, IN_HANDLER, AFTER_BUSINESS_WRITE, COMMITTING, AFTER_COMMIT_BEFORE_ACK, ACKING;

        static Phase of(int code) {
            return values()[code];
        }
    }

    static final int STATUS_SIZE = 64;
    static final int HANDLER_FAILURES = 8;
    static final int STORE_ERRORS = 16;
    static final int PROCESSED = 24;
    static final int DUPLICATES = 32;
    static final int ACKED = 40;
    static final int STARTS = 48;

    /** Thrown by the handler to inject a failure: rolls the transaction back, the message is redelivered. */
    static final class InjectedFailure extends Exception {
        InjectedFailure(String message) {
            super(message);
        }
    }

    private CrashableConsumer() {
    }

    public static void main(String[] args) throws Exception {
        String brokerTable = args[0];
        String effectsTable = args[1];
        String claimsTable = args[2];
        int partition = Integer.parseInt(args[3]);
        int partitions = Integer.parseInt(args[4]);
        String statusFile = args[5];
        int failurePermille = Integer.parseInt(args[6]);
        boolean exitWhenEmpty = args.length < 8 || Boolean.parseBoolean(args[7]);

        try (RandomAccessFile raf = new RandomAccessFile(statusFile, "rw");
             FileChannel channel = raf.getChannel()) {
            MappedByteBuffer status = channel.map(FileChannel.MapMode.READ_WRITE, 0, STATUS_SIZE);
            phase(status, Phase.STARTING);
            add(status, STARTS, 1);
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(System.getenv("ONCELY_CHILD_URL"));
            config.setUsername(System.getenv("ONCELY_CHILD_USER"));
            config.setPassword(System.getenv("ONCELY_CHILD_PASSWORD"));
            config.addDataSourceProperty("ApplicationName", System.getenv("ONCELY_CHILD_APP"));
            config.setMaximumPoolSize(2);
            config.setConnectionTimeout(5_000);
            config.setInitializationFailTimeout(-1);
            // Named, not detected: HikariCP 7.0.2 detects the default isolation level on its first connection, and
            // if that backend is terminated during the detection it keeps -1 and fails every later connection set-up
            // ("Transaction isolation level -1 not supported"): the pool is wedged for good (seen in this harness).
            config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
            try (HikariDataSource pool = new HikariDataSource(config)) {
                JdbcDedupStore store = JdbcDedupStore.builder(pool).database(dev.oncely.jdbc.Database.POSTGRESQL)
                        .table(claimsTable).build();
                String insert = "INSERT INTO " + effectsTable + " (event_id, payload) VALUES (?, ?)";
                IdempotentHandler<String, Void, Exception> handler = IdempotentHandler.<String, Void>builder(store)
                        .consumer("crash")
                        .key(k -> k)
                        .handler((key, ctx) -> {
                            phase(status, Phase.IN_HANDLER);
                            ThreadLocalRandom random = ThreadLocalRandom.current();
                            if (random.nextInt(1000) < failurePermille) {
                                throw new InjectedFailure("injected failure before the business write of " + key);
                            }
                            try (PreparedStatement ps = ctx.unwrap(Connection.class).prepareStatement(insert)) {
                                ps.setString(1, key);
                                ps.setString(2, "partition " + partition);
                                ps.executeUpdate();
                            }
                            phase(status, Phase.AFTER_BUSINESS_WRITE);
                            if (random.nextInt(1000) < failurePermille) {
                                throw new InjectedFailure("injected failure after the business write of " + key);
                            }
                            if (random.nextInt(4) == 0) {
                                Thread.sleep(1); // widen the window between the write and the commit
                            }
                            phase(status, Phase.COMMITTING);
                            return null;
                        })
                        .build();
                String fetch = "SELECT id, event_id FROM " + brokerTable + " WHERE part = ? ORDER BY id LIMIT 200";
                String ack = "DELETE FROM " + brokerTable + " WHERE id = ?";
                while (true) {
                    phase(status, Phase.FETCHING);
                    List<long[]> ids = new ArrayList<>();
                    List<String> keys = new ArrayList<>();
                    try (Connection c = pool.getConnection();
                         PreparedStatement ps = c.prepareStatement(fetch)) {
                        ps.setInt(1, partition);
                        try (ResultSet rs = ps.executeQuery()) {
                            while (rs.next()) {
                                ids.add(new long[] {rs.getLong(1)});
                                keys.add(rs.getString(2));
                            }
                        }
                    } catch (SQLException e) {
                        add(status, STORE_ERRORS, 1);
                        Thread.sleep(50);
                        continue;
                    }
                    if (ids.isEmpty()) {
                        if (exitWhenEmpty) {
                            break;
                        }
                        Thread.sleep(50);
                        continue;
                    }
                    for (int i = 0; i < ids.size(); i++) {
                        Outcome<Void> outcome;
                        try {
                            outcome = handler.process(keys.get(i));
                        } catch (InjectedFailure e) {
                            add(status, HANDLER_FAILURES, 1);
                            continue; // not acknowledged: redelivered by the next fetch
                        } catch (OncelyException | SQLException e) {
                            add(status, STORE_ERRORS, 1); // connection killed, outcome unknown: not acknowledged
                            continue;
                        }
                        phase(status, Phase.AFTER_COMMIT_BEFORE_ACK);
                        add(status, outcome.isProcessed() ? PROCESSED : DUPLICATES, 1);
                        if (ThreadLocalRandom.current().nextInt(4) == 0) {
                            Thread.sleep(1); // widen the window between the commit and the ack
                        }
                        phase(status, Phase.ACKING);
                        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(ack)) {
                            ps.setLong(1, ids.get(i)[0]);
                            ps.executeUpdate();
                            add(status, ACKED, 1);
                        } catch (SQLException e) {
                            add(status, STORE_ERRORS, 1); // the ack was lost: the message comes again
                        }
                    }
                }
            }
            phase(status, Phase.STARTING);
        }
    }

    private static void phase(MappedByteBuffer status, Phase phase) {
        status.put(0, (byte) phase.ordinal());
    }

    private static void add(MappedByteBuffer status, int offset, long n) {
        status.putLong(offset, status.getLong(offset) + n);
    }
}
