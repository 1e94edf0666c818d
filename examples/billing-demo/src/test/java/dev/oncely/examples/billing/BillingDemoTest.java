package dev.oncely.examples.billing;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.examples.billing.BillingDemo.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BillingDemoTest {

    private static final String H2 = "jdbc:h2:mem:billing_demo_test;DB_CLOSE_DELAY=-1";

    @Test
    void naiveDoubleChargesWhileOncelyChargesEveryEventExactlyOnce() {
        // 5% blips on 3,000 events: about 150 redeliveries, many of them racing the first copy.
        DemoOptions options = DemoOptions.parse("--events", "3000", "--consumers", "4", "--blip-rate", "0.05",
                "--seed", "7", "--jdbc-url", H2);
        AtLeastOnceChannel stream = new AtLeastOnceChannel(3000, 0.05, 7);
        int redeliveries = stream.scheduledDeliveries() - 3000;
        assertThat(redeliveries).as("the seeded stream has redeliveries").isGreaterThan(50);

        List<RunResult> results;
        try (HikariDataSource dataSource = new HikariDataSource()) {
            dataSource.setJdbcUrl(H2);
            dataSource.setMaximumPoolSize(5);
            results = BillingDemo.compare(dataSource, options, new PrintStream(new ByteArrayOutputStream()));
        }
        RunResult naive = results.get(0);
        RunResult oncely = results.get(1);

        for (RunResult r : results) {
            assertThat(r.uniqueEvents()).as(r.consumer() + " unique events").isEqualTo(3000);
            assertThat(r.redeliveries()).as(r.consumer() + " redeliveries").isGreaterThanOrEqualTo(redeliveries);
            assertThat(r.deliveries()).as(r.consumer() + " deliveries").isEqualTo(3000 + r.redeliveries());
            assertThat(r.lostCharges()).as(r.consumer() + " lost charges").isZero();
        }
        assertThat(naive.doubleCharges()).as("naive double charges: one per redelivery").isEqualTo(redeliveries);
        assertThat(naive.chargesWritten()).isEqualTo(3000 + redeliveries);
        assertThat(oncely.doubleCharges()).as("Oncely double charges").isZero();
        assertThat(oncely.chargesWritten()).as("Oncely charges").isEqualTo(3000);
    }

    @Test
    void theSameSeedGivesTheSameStream() {
        assertThat(drain(new AtLeastOnceChannel(2000, 0.1, 1))).isEqualTo(drain(new AtLeastOnceChannel(2000, 0.1, 1)))
                .isNotEqualTo(drain(new AtLeastOnceChannel(2000, 0.1, 2)));
        assertThat(new AtLeastOnceChannel(2000, 0, 1).scheduledDeliveries()).as("no blips, no redeliveries")
                .isEqualTo(2000);
    }

    @Test
    void runPrintsTheComparisonOnTheEmbeddedDatabase() {
        Run run = run("--events", "500", "--consumers", "2", "--blip-rate", "2%", "--seed", "3");
        assertThat(run.status).as(run.err).isZero();
        assertThat(run.out).contains("on H2", "double charges", "lost charges", "throughput (msgs/s)",
                "Oncely: every event charged exactly once.");
        assertThat(run.out.lines().filter(l -> l.startsWith("double charges")).findFirst().orElseThrow())
                .matches("double charges\\s+[1-9][\\d,]*\\s+0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--events abc", "--evnts 10", "--blip-rate 2", "--consumers 0", "--events",
            "--jdbc-url postgres://localhost/x", "stray"})
    void aBadFlagGivesOneLineAndExitStatus2(String args) {
        Run run = run(args.split(" "));
        assertThat(run.status).isEqualTo(2);
        assertOneLineError(run);
    }

    @Test
    void anUnreachableDatabaseGivesOneLineAndExitStatus1() {
        Run run = run("--jdbc-url", "jdbc:postgresql://127.0.0.1:1/nowhere", "--user", "postgres");
        assertThat(run.status).isEqualTo(1);
        assertOneLineError(run);
        assertThat(run.err).contains("cannot connect to jdbc:postgresql://127.0.0.1:1/nowhere", "--user/--password");

        Run noDriver = run("--jdbc-url", "jdbc:nosuchdb://x");
        assertThat(noDriver.status).isEqualTo(1);
        assertThat(noDriver.err).contains("no JDBC driver for jdbc:nosuchdb://x");
    }

    @Test
    void eachConsumerRunSaysWhenItStartsAndWhenItIsDone() {
        Run run = run("--events", "500", "--consumers", "2", "--seed", "3");
        assertThat(run.status).as(run.err).isZero();
        assertThat(run.err).contains("preparing the tables (500 charge events)",
                "naive consumer: consuming 50", "naive consumer: done, 50", "Oncely: consuming 50", "Oncely: done, 50");
    }

    @Test
    void aProgressLineShowsABarThePercentageAndTheRate() {
        assertThat(ConsumerRun.progressLine("Oncely", 10_000, 20_000, 5.0))
                .isEqualTo("  Oncely: [##########..........]  50% (10,000 of 20,000 deliveries, 2,000/s)");
        assertThat(ConsumerRun.progressLine("Oncely", 20_047, 20_047, 10.0)).contains("[####################] 100%");
    }

    @Test
    void helpListsTheFlags() {
        Run run = run("--help");
        assertThat(run.status).isZero();
        assertThat(run.out).contains("--events", "--consumers", "--blip-rate", "--seed", "--jdbc-url", "--user",
                "--password");
    }

    private static void assertOneLineError(Run run) {
        assertThat(run.err.lines().toList()).as(run.err).hasSize(1)
                .allSatisfy(l -> assertThat(l).startsWith("billing-demo: ").doesNotContain("Exception"));
        assertThat(run.out).isEmpty();
    }

    private static List<String> drain(AtLeastOnceChannel channel) {
        List<String> ids = new java.util.ArrayList<>();
        for (var d = channel.poll(); d != null; d = channel.poll()) {
            ids.add(d.event() + (d.redelivery() ? " again" : ""));
        }
        return ids;
    }

    private record Run(int status, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = BillingDemo.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
