package dev.oncely.examples.lease;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.examples.lease.LeaseDemo.Mode;
import dev.oncely.examples.lease.LeaseDemo.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LeaseDemoTest {

    private static final String H2 = "jdbc:h2:mem:lease_demo_test;DB_CLOSE_DELAY=-1";

    @Test
    void naiveConsumersDoubleChargeOrLoseChargesWhileOncelyWithDownstreamKeysChargesEveryEventOnce()
            throws Exception {
        DemoOptions options = DemoOptions.parse("--events", "200", "--consumers", "4", "--fault-rate", "0.1",
                "--seed", "7", "--url", H2);
        Map<Fault, Long> planned = countByFault(Fault.plan(200, 0.1, 7));
        assertThat(planned.keySet()).as("the seeded plan has every fault").containsAll(Fault.INJECTED);

        List<RunResult> results;
        try (HikariDataSource dataSource = new HikariDataSource(); PaymentService payments = PaymentService.start()) {
            dataSource.setJdbcUrl(H2);
            dataSource.setMaximumPoolSize(6);
            results = LeaseDemo.compare(dataSource, payments, options, new PrintStream(new ByteArrayOutputStream()));
        }
        RunResult callThenRecord = result(results, Mode.CALL_THEN_RECORD);
        RunResult claimThenCall = result(results, Mode.CLAIM_THEN_CALL);
        RunResult noKey = result(results, Mode.ONCELY_NO_KEY);
        RunResult keys = result(results, Mode.ONCELY_WITH_KEYS);
        long charged = planned.get(Fault.CRASH_DURING_CALL) + planned.get(Fault.CRASH_AFTER_CALL)
                + planned.get(Fault.RESPONSE_LOST) + planned.get(Fault.STALL_PAST_LEASE);

        // Every number below was counted by the payment service, except records COMPLETED (the dedup table). The
        // naive consumers' counts are lower bounds: on a loaded machine a call may also time out unplanned.
        assertThat(callThenRecord.doubleCharges()).as("call, then record: every fault after the charge")
                .isGreaterThanOrEqualTo(charged);
        assertThat(callThenRecord.lostCharges()).isZero();
        assertThat(claimThenCall.lostCharges()).as("claim, then call: a crash before the call loses the charge")
                .isEqualTo(planned.get(Fault.CRASH_BEFORE_CALL));
        assertThat(claimThenCall.doubleCharges()).as("claim, then call: a lost response is charged again")
                .isGreaterThanOrEqualTo(planned.get(Fault.RESPONSE_LOST));
        assertThat(noKey.doubleCharges()).as("Oncely without a key: the call between its start and its record")
                .isGreaterThanOrEqualTo(charged);
        assertThat(noKey.lostCharges()).isZero();
        assertThat(keys.doubleCharges()).as("Oncely + keys: double charges").isZero();
        assertThat(keys.lostCharges()).as("Oncely + keys: lost charges").isZero();
        assertThat(keys.charges()).as("Oncely + keys: charges").isEqualTo(200);
        assertThat(keys.replayedByService()).as("repeated calls answered from the first charge")
                .isGreaterThanOrEqualTo(charged);
        assertThat(keys.staleRunsRefused()).as("stalled runs whose late record was refused")
                .isGreaterThanOrEqualTo(planned.get(Fault.STALL_PAST_LEASE));
        for (RunResult r : List.of(noKey, keys)) {
            assertThat(r.recordsCompleted()).as(r.mode().label + " records COMPLETED").isEqualTo(200);
        }
        for (RunResult r : results) {
            assertThat(r.consumersDied()).as(r.mode().label + " consumers that died").isEqualTo(
                    planned.get(Fault.CRASH_BEFORE_CALL) + planned.get(Fault.CRASH_DURING_CALL)
                            + planned.get(Fault.CRASH_AFTER_CALL));
        }
    }

    @Test
    void thePaymentServiceChargesOncePerIdempotencyKeyAndCountsEveryChargeWithoutOne() throws Exception {
        try (PaymentService payments = PaymentService.start()) {
            PaymentClient client = new PaymentClient(payments.chargesUri(), id -> { });
            ChargeEvent event = new ChargeEvent("evt-1", "cus-1", 500);
            Crash never = new Crash(() -> { throw new AssertionError("no crash planned"); });
            String first = client.charge(event, java.util.Optional.of("k-1"), Fault.NONE, never);
            assertThat(client.charge(event, java.util.Optional.of("k-1"), Fault.NONE, never)).isEqualTo(first);
            assertThat(payments.chargesFor("evt-1")).isEqualTo(1);
            assertThat(payments.replays()).isEqualTo(1);

            client.charge(event, java.util.Optional.empty(), Fault.NONE, never);
            client.charge(event, java.util.Optional.empty(), Fault.NONE, never);
            assertThat(payments.chargesFor("evt-1")).as("without a key, every call charges").isEqualTo(3);

            ChargeEvent other = new ChargeEvent("evt-1", "cus-1", 999);
            org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                            client.charge(other, java.util.Optional.of("k-1"), Fault.NONE, never))
                    .isInstanceOf(PaymentClient.PaymentFailed.class).hasMessageContaining("422");
        }
    }

    @Test
    void runPrintsTheTableOnTheEmbeddedDatabase() {
        Run run = run("--events", "60", "--consumers", "3", "--fault-rate", "0.1", "--seed", "3");
        assertThat(run.status).as(run.err).isZero();
        assertThat(run.out).contains("on H2", "charges (the service's count)", "double charges", "lost charges",
                "Oncely + keys: every event charged exactly once, as counted by the payment service.");
        assertThat(run.out.lines().filter(l -> l.startsWith("double charges")).findFirst().orElseThrow())
                .matches("double charges\\s+[1-9][\\d,]*\\s+[\\d,]+\\s+[1-9][\\d,]*\\s+0");
        assertThat(run.err).contains("Oncely + keys: charging 60 events with 3 consumers", "Oncely + keys: done");
    }

    @ParameterizedTest
    @ValueSource(strings = {"--events abc", "--evnts 10", "--fault-rate 2", "--consumers 0", "--lease-seconds 1",
            "--events", "--url postgres://localhost/x", "stray"})
    void aBadFlagGivesOneLineAndExitStatus2(String args) {
        Run run = run(args.split(" "));
        assertThat(run.status).isEqualTo(2);
        assertThat(run.err.lines().toList()).as(run.err).hasSize(1)
                .allSatisfy(l -> assertThat(l).startsWith("lease-demo: ").doesNotContain("Exception"));
        assertThat(run.out).isEmpty();
    }

    @Test
    void anUnreachableDatabaseGivesOneLineAndExitStatus1() {
        Run run = run("--url", "jdbc:postgresql://127.0.0.1:1/nowhere", "--user", "postgres");
        assertThat(run.status).isEqualTo(1);
        assertThat(run.err).contains("cannot connect to jdbc:postgresql://127.0.0.1:1/nowhere", "--user/--password");
    }

    @Test
    void helpListsTheFlags() {
        Run run = run("--help");
        assertThat(run.status).isZero();
        assertThat(run.out).contains("--events", "--consumers", "--fault-rate", "--lease-seconds", "--seed", "--url",
                "--user", "--password");
    }

    @Test
    void aProgressLineShowsABarThePercentageAndTheRate() {
        assertThat(ConsumerGroup.progressLine("Oncely + keys", 500, 1_000, 2.0))
                .isEqualTo("  Oncely + keys: [##########..........]  50% (500 of 1,000 events done, 250/s)");
    }

    private static RunResult result(List<RunResult> results, Mode mode) {
        return results.stream().filter(r -> r.mode() == mode).findFirst().orElseThrow();
    }

    private static Map<Fault, Long> countByFault(List<Fault> plan) {
        Map<Fault, Long> counts = new java.util.EnumMap<>(Fault.class);
        plan.forEach(f -> counts.merge(f, 1L, Long::sum));
        return counts;
    }

    private record Run(int status, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = LeaseDemo.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
