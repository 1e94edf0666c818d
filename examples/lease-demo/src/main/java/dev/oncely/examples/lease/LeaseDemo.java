package dev.oncely.examples.lease;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.KeyInProgressException;
import dev.oncely.LeaseLostException;
import dev.oncely.LeasedHandler;
import dev.oncely.ResultCodec;
import dev.oncely.examples.demo.DemoDatabase;
import dev.oncely.examples.demo.DemoException;
import dev.oncely.examples.lease.RedeliveringChannel.Delivery;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.IOException;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToLongFunction;
import javax.sql.DataSource;

/**
 * The lease demo: a billing run whose charge is an HTTP call to a payment service (started here, on localhost),
 * with consumers that die before, during and after the call, responses lost to a timeout, and consumers that stall
 * past their lease. The same stream, with the same faults, goes through four consumers:
 * <ul>
 *   <li><b>call, then record</b>: calls the service without a key, then records the event as done;</li>
 *   <li><b>claim, then call</b>: commits a claim first, calls without a key, deletes the claim if the call fails;</li>
 *   <li><b>Oncely, no key</b>: {@link LeasedHandler} with the charge as a recorded step, no key sent;</li>
 *   <li><b>Oncely + keys</b>: the same, sending {@code run.downstreamKey("charge")} as the {@code Idempotency-Key}.</li>
 * </ul>
 * The payment service counts the charges: only the last charges every event exactly once.
 *
 * <p>Run: {@code mvn -q -pl examples/lease-demo -am compile exec:java} (add {@code -Dexec.args="--help"}).
 */
public final class LeaseDemo {

    static final String ONCELY_TABLE = "lease_demo_processed_events";
    static final String NAIVE_DONE = "lease_demo_naive_done";
    static final String NAIVE_CLAIMS = "lease_demo_naive_claims";

    /** The four consumers, in the order they run. */
    enum Mode {
        CALL_THEN_RECORD("call, then record"),
        CLAIM_THEN_CALL("claim, then call"),
        ONCELY_NO_KEY("Oncely, no key"),
        ONCELY_WITH_KEYS("Oncely + keys");

        final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    /**
     * What one consumer did. Charges are counted by the payment service; records by the database.
     *
     * @param extraByFault double charges (beyond the first) of events whose first delivery had each fault
     * @param lostByFault  events never charged, by the fault of their first delivery
     */
    record RunResult(Mode mode, int events, long deliveries, long redeliveries, int consumersDied, long charges,
            long doubleCharges, long lostCharges, Map<Fault, Long> extraByFault, Map<Fault, Long> lostByFault,
            long replayedByService, long staleRunsRefused, long recordsCompleted, double seconds) {
    }

    /** The message a consumer's handler gets: the delivery, and how its thread dies if the plan says so. */
    record Work(Delivery delivery, Crash crash) {
    }

    public static void main(String[] args) {
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** The whole program; returns the exit status (0 ok, 2 bad flag, 1 database problem). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        DemoOptions options;
        try {
            options = DemoOptions.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("lease-demo: " + e.getMessage());
            return 2;
        }
        if (options.help()) {
            out.print(DemoOptions.USAGE);
            return 0;
        }
        try (HikariDataSource dataSource = connect(options); PaymentService payments = PaymentService.start()) {
            out.printf(Locale.ROOT, "Lease demo: %,d charge events, %d consumers, faults on %.1f%% of first"
                            + " deliveries, lease %d s, seed %d, on %s; payment service at %s%n%n", options.events(),
                    options.consumers(), options.faultRate() * 100, options.leaseSeconds(), options.seed(),
                    DemoDatabase.describe(dataSource, options.url().isEmpty()), payments.chargesUri());
            List<RunResult> results = compare(dataSource, payments, options, err);
            printTable(results, out);
            return 0;
        } catch (DemoException e) {
            err.println("lease-demo: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("lease-demo: cannot start the payment service on localhost: " + e.getMessage());
            return 1;
        }
    }

    /** Runs the same stream, with the same faults, through each mode in turn. */
    static List<RunResult> compare(DataSource dataSource, PaymentService payments, DemoOptions options,
            PrintStream progress) {
        try {
            recreateTables(dataSource);
            JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table(ONCELY_TABLE).build()
                    .createSchemaIfMissing();
            List<RunResult> results = new ArrayList<>();
            for (Mode mode : Mode.values()) {
                results.add(runOne(mode, dataSource, store, payments, options, progress));
            }
            return results;
        } catch (Exception e) {
            throw DemoException.of(e);
        }
    }

    static List<ChargeEvent> events(int n) {
        List<ChargeEvent> events = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            events.add(new ChargeEvent("evt-" + i, "cus-" + (i % 97), 500 + (i % 50) * 100));
        }
        return events;
    }

    private static RunResult runOne(Mode mode, DataSource dataSource, JdbcDedupStore store, PaymentService payments,
            DemoOptions options, PrintStream progress) throws Exception {
        payments.reset();
        Duration lease = Duration.ofSeconds(options.leaseSeconds());
        // A delivery not acknowledged within 1.5 leases comes again (the broker's visibility timeout), so its
        // redelivery finds the lease of a dead or stalled run over and takes the key over.
        Duration visibility = lease.multipliedBy(3).dividedBy(2);
        List<ChargeEvent> events = events(options.events());
        List<Fault> plan = Fault.plan(options.events(), options.faultRate(), options.seed());
        RedeliveringChannel channel = new RedeliveringChannel(events, plan, visibility);
        // A stalled run wakes up once another consumer has handled its event's redelivery (or after a minute).
        PaymentClient client = new PaymentClient(payments.chargesUri(),
                eventId -> channel.awaitAcked(eventId, Duration.ofMinutes(1)));
        AtomicLong staleRefused = new AtomicLong();
        ConsumerGroup.DeliveryHandler handler = switch (mode) {
            case CALL_THEN_RECORD -> (d, crash) -> {
                if (naiveDone(dataSource, d.event().eventId())) {
                    return true;
                }
                client.charge(d.event(), Optional.empty(), d.fault(), crash);
                naiveInsert(dataSource, NAIVE_DONE, d.event().eventId());
                return true;
            };
            case CLAIM_THEN_CALL -> (d, crash) -> {
                if (!naiveInsert(dataSource, NAIVE_CLAIMS, d.event().eventId())) {
                    return true; // claimed before: "already done"
                }
                try {
                    client.charge(d.event(), Optional.empty(), d.fault(), crash);
                } catch (PaymentClient.PaymentFailed e) {
                    naiveDelete(dataSource, d.event().eventId()); // give the claim back so a retry can charge
                    throw e;
                }
                return true;
            };
            case ONCELY_NO_KEY, ONCELY_WITH_KEYS -> oncely(store, mode, client, lease, staleRefused);
        };
        ConsumerGroup.Stats stats;
        try (channel) {
            stats = ConsumerGroup.drain(mode.label, channel, options.consumers(), handler, progress);
        }
        Map<Fault, Long> extra = new EnumMap<>(Fault.class);
        Map<Fault, Long> lost = new EnumMap<>(Fault.class);
        long doubles = 0;
        long lostCharges = 0;
        for (int i = 0; i < events.size(); i++) {
            int n = payments.chargesFor(events.get(i).eventId());
            if (n > 1) {
                doubles += n - 1;
                extra.merge(plan.get(i), (long) n - 1, Long::sum);
            } else if (n == 0) {
                lostCharges++;
                lost.merge(plan.get(i), 1L, Long::sum);
            }
        }
        long completed = mode == Mode.ONCELY_NO_KEY || mode == Mode.ONCELY_WITH_KEYS
                ? completedRecords(dataSource, consumer(mode)) : -1;
        return new RunResult(mode, events.size(), channel.delivered(), channel.redelivered(), stats.crashes(),
                payments.charges(), doubles, lostCharges, extra, lost, payments.replays(), staleRefused.get(),
                completed, stats.seconds());
    }

    /** Oncely's consumer: the charge is the step "charge"; with keys, its downstream key goes to the service. */
    private static ConsumerGroup.DeliveryHandler oncely(JdbcDedupStore store, Mode mode, PaymentClient client,
            Duration lease, AtomicLong staleRefused) {
        boolean sendKey = mode == Mode.ONCELY_WITH_KEYS;
        LeasedHandler<Work, String, PaymentClient.PaymentFailed> charges = LeasedHandler.<Work, String>builder(store)
                .consumer(consumer(mode))
                .key(work -> work.delivery().event().eventId())
                .lease(lease)
                .maxAttempts(20)
                .resultCodec(ResultCodec.utf8())
                .handler((work, run) -> run.step("charge", ResultCodec.utf8(), () -> client.charge(
                        work.delivery().event(), sendKey ? Optional.of(run.downstreamKey("charge")) : Optional.empty(),
                        work.delivery().fault(), work.crash())))
                .build();
        return new ConsumerGroup.DeliveryHandler() {
            @Override
            public boolean onDelivery(Delivery delivery, Crash crash) throws Exception {
                try {
                    charges.process(new Work(delivery, crash)); // processed, or a duplicate: acknowledge
                    return true;
                } catch (LeaseLostException e) {
                    staleRefused.incrementAndGet(); // this run outlived its lease; another run owns the key
                    return false;
                }
            }

            @Override
            public long retryDelayMillis(Exception failure) {
                if (failure instanceof KeyInProgressException busy) {
                    return Math.min(busy.retryAfter().toMillis() + 10, 500);
                }
                return 50;
            }
        };
    }

    static String consumer(Mode mode) {
        return mode == Mode.ONCELY_WITH_KEYS ? "billing-with-keys" : "billing-no-key";
    }

    // -------------------------------------------------------------------------------- the naive consumers' table

    private static void recreateTables(DataSource dataSource) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (String table : List.of(ONCELY_TABLE, NAIVE_DONE, NAIVE_CLAIMS)) {
                st.execute("DROP TABLE IF EXISTS " + table);
            }
            st.execute("CREATE TABLE " + NAIVE_DONE + " (event_id varchar(100) PRIMARY KEY)");
            st.execute("CREATE TABLE " + NAIVE_CLAIMS + " (event_id varchar(100) PRIMARY KEY)");
        }
    }

    private static boolean naiveDone(DataSource dataSource, String eventId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + NAIVE_DONE + " WHERE event_id = ?")) {
            ps.setString(1, eventId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Inserts the event id; false if it was there already. */
    private static boolean naiveInsert(DataSource dataSource, String table, String eventId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (event_id) VALUES (?)")) {
            ps.setString(1, eventId);
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
                return false; // a unique violation: 23505 on PostgreSQL and H2, 23000 on MariaDB
            }
            throw e;
        }
    }

    private static void naiveDelete(DataSource dataSource, String eventId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("DELETE FROM " + NAIVE_CLAIMS + " WHERE event_id = ?")) {
            ps.setString(1, eventId);
            ps.executeUpdate();
        }
    }

    private static long completedRecords(DataSource dataSource, String consumer) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + ONCELY_TABLE
                     + " WHERE consumer = ? AND state = 'COMPLETED'")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    // -------------------------------------------------------------------------------------------- the table

    static void printTable(List<RunResult> results, PrintStream out) {
        out.println();
        header(out, "", results);
        row(out, "deliveries", results, RunResult::deliveries);
        row(out, "redeliveries", results, RunResult::redeliveries);
        row(out, "consumers that died", results, RunResult::consumersDied);
        row(out, "charges (the service's count)", results, RunResult::charges);
        row(out, "double charges", results, RunResult::doubleCharges);
        row(out, "lost charges", results, RunResult::lostCharges);
        row(out, "replayed by Idempotency-Key", results, RunResult::replayedByService);
        row(out, "stale runs refused", results, RunResult::staleRunsRefused);
        text(out, "records COMPLETED", results, r -> r.recordsCompleted() < 0 ? "-"
                : String.format(Locale.ROOT, "%,d", r.recordsCompleted()));
        text(out, "seconds", results, r -> String.format(Locale.ROOT, "%.1f", r.seconds()));
        out.println();
        out.println("Where the double (+) and lost (-) charges came from, by the fault of the event's first delivery:");
        header(out, "", results);
        for (Fault fault : Fault.INJECTED) {
            text(out, fault.label, results, r -> {
                long plus = r.extraByFault().getOrDefault(fault, 0L);
                long minus = r.lostByFault().getOrDefault(fault, 0L);
                return plus == 0 && minus == 0 ? "0" : (plus > 0 ? "+" + plus : "") + (plus > 0 && minus > 0 ? " " : "")
                        + (minus > 0 ? "-" + minus : "");
            });
        }
        text(out, "no fault", results, r -> {
            long n = r.extraByFault().getOrDefault(Fault.NONE, 0L) + r.lostByFault().getOrDefault(Fault.NONE, 0L);
            return Long.toString(n);
        });
        out.println();
        for (RunResult r : results) {
            out.printf(Locale.ROOT, "%s: %s%n", r.mode().label, r.doubleCharges() == 0 && r.lostCharges() == 0
                    ? "every event charged exactly once, as counted by the payment service."
                    : String.format(Locale.ROOT, "%,d extra charges, %,d events never charged.", r.doubleCharges(),
                            r.lostCharges()));
        }
    }

    private static void header(PrintStream out, String label, List<RunResult> results) {
        out.printf(Locale.ROOT, "%-31s", label);
        results.forEach(r -> out.printf(Locale.ROOT, "%19s", r.mode().label));
        out.println();
    }

    private static void row(PrintStream out, String label, List<RunResult> results, ToLongFunction<RunResult> value) {
        text(out, label, results, r -> String.format(Locale.ROOT, "%,d", value.applyAsLong(r)));
    }

    private static void text(PrintStream out, String label, List<RunResult> results,
            java.util.function.Function<RunResult, String> value) {
        out.printf(Locale.ROOT, "%-31s", label);
        results.forEach(r -> out.printf(Locale.ROOT, "%19s", value.apply(r)));
        out.println();
    }

    // -------------------------------------------------------------------------------------------- plumbing

    private static HikariDataSource connect(DemoOptions options) {
        // A thread per consumer, replacements for dead ones, and keep-alive: lease mode holds a connection only
        // for its short statements.
        return DemoDatabase.connect(options.jdbcUrl(), options.user(), options.password(), options.consumers() + 2,
                "lease-demo");
    }

    private LeaseDemo() {
    }
}
