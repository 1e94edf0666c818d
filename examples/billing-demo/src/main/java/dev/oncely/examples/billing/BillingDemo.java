package dev.oncely.examples.billing;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.examples.demo.DemoDatabase;
import dev.oncely.examples.demo.DemoException;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.PrintStream;
import java.sql.Connection;
import java.util.List;
import java.util.Locale;
import javax.sql.DataSource;

/**
 * The billing demo: the same stream of charge events, with redeliveries after network blips, goes through a
 * naive consumer and through Oncely. The naive consumer charges some customers twice; Oncely charges every
 * event exactly once, because the claim and the charge commit in one transaction.
 *
 * <p>Run: {@code mvn -q -pl examples/billing-demo -am compile exec:java} (add {@code -Dexec.args="--help"}).
 */
public final class BillingDemo {

    static final String NAIVE_CHARGES = "billing_demo_charges_naive";
    static final String ONCELY_CHARGES = "billing_demo_charges_oncely";

    /** What one consumer did with the stream. Every number but deliveries and time is counted in the database. */
    record RunResult(String consumer, long deliveries, long redeliveries, long uniqueEvents, long chargesWritten,
            long doubleCharges, long lostCharges, double seconds) {

        double throughput() {
            return deliveries / Math.max(seconds, 1e-9);
        }
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
            err.println("billing-demo: " + e.getMessage());
            return 2;
        }
        if (options.help()) {
            out.print(DemoOptions.USAGE);
            return 0;
        }
        try (HikariDataSource dataSource = connect(options)) {
            out.printf(Locale.ROOT, "Billing demo: %,d charge events, %d consumers, blip rate %.2f%%, seed %d, on %s%n%n",
                    options.events(), options.consumers(), options.blipRate() * 100, options.seed(),
                    DemoDatabase.describe(dataSource, options.jdbcUrl().isEmpty()));
            List<RunResult> results = compare(dataSource, options, err);
            printTable(results, out);
            return 0;
        } catch (DemoException e) {
            err.println("billing-demo: " + e.getMessage());
            return 1;
        }
    }

    /** Runs the same stream (same seed) through the naive consumer, then through Oncely. */
    static List<RunResult> compare(DataSource dataSource, DemoOptions options, PrintStream progress) {
        BillingTables tables = new BillingTables(dataSource);
        try {
            progress.printf(Locale.ROOT, "  preparing the tables (%,d charge events)...%n", options.events());
            tables.recreate(stream(options).events(), NAIVE_CHARGES, ONCELY_CHARGES);

            // Naive: write the charge and acknowledge. A redelivered event is charged again.
            RunResult naive = consume("naive consumer", NAIVE_CHARGES, tables, options, progress, event -> {
                try (Connection connection = dataSource.getConnection()) {
                    BillingTables.insertCharge(connection, NAIVE_CHARGES, event);
                }
            });

            // Oncely: the same write, in the transaction that claims the event id. A redelivery finds the claim.
            IdempotentHandler<ChargeEvent, Void, ?> charges = IdempotentHandler.<ChargeEvent, Void>builder(store(dataSource))
                    .consumer("billing")
                    .key(ChargeEvent::eventId)
                    .handler((event, tx) -> {
                        BillingTables.insertCharge(tx.unwrap(Connection.class), ONCELY_CHARGES, event);
                        return null;
                    })
                    .build();
            RunResult oncely = consume("Oncely", ONCELY_CHARGES, tables, options, progress, charges::process);

            return List.of(naive, oncely);
        } catch (Exception e) {
            throw DemoException.of(e);
        }
    }

    private static RunResult consume(String name, String chargesTable, BillingTables tables, DemoOptions options,
            PrintStream progress, ConsumerRun.ChargeConsumer consumer) throws Exception {
        AtLeastOnceChannel channel = stream(options);
        double seconds = ConsumerRun.drain(name, channel, options.consumers(), consumer, progress);
        return new RunResult(name, channel.delivered(), channel.redelivered(), tables.uniqueEvents(),
                tables.chargesWritten(chargesTable), tables.doubleCharges(chargesTable),
                tables.lostCharges(chargesTable), seconds);
    }

    private static AtLeastOnceChannel stream(DemoOptions options) {
        return new AtLeastOnceChannel(options.events(), options.blipRate(), options.seed());
    }

    private static JdbcDedupStore store(DataSource dataSource) {
        // The dialect (PostgreSQL, MariaDB, H2) is detected from the database.
        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).table(BillingTables.ONCELY_CLAIMS).build();
        return store.createSchemaIfMissing();
    }

    static void printTable(List<RunResult> results, PrintStream out) {
        out.printf(Locale.ROOT, "%-22s", "");
        results.forEach(r -> out.printf(Locale.ROOT, "%16s", r.consumer()));
        out.println();
        row(out, "deliveries", results, RunResult::deliveries);
        row(out, "redeliveries", results, RunResult::redeliveries);
        row(out, "unique events", results, RunResult::uniqueEvents);
        row(out, "charges written", results, RunResult::chargesWritten);
        row(out, "double charges", results, RunResult::doubleCharges);
        row(out, "lost charges", results, RunResult::lostCharges);
        row(out, "throughput (msgs/s)", results, r -> Math.round(r.throughput()));
        out.println();
        for (RunResult r : results) {
            out.printf(Locale.ROOT, "%s: %s%n", r.consumer(), r.doubleCharges() == 0 && r.lostCharges() == 0
                    ? "every event charged exactly once."
                    : String.format(Locale.ROOT, "%,d extra charges, %,d events never charged.", r.doubleCharges(),
                            r.lostCharges()));
        }
    }

    private static void row(PrintStream out, String label, List<RunResult> results,
            java.util.function.ToLongFunction<RunResult> value) {
        out.printf(Locale.ROOT, "%-22s", label);
        results.forEach(r -> out.printf(Locale.ROOT, "%,16d", value.applyAsLong(r)));
        out.println();
    }

    private static HikariDataSource connect(DemoOptions options) {
        return DemoDatabase.connect(options.url(), options.user(), options.password(), options.consumers() + 1,
                "billing-demo");
    }

    private BillingDemo() {
    }
}
