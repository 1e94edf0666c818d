package dev.oncely.examples.payments;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class PaymentsApiTest {

    @Test
    void aClientThatTimesOutAndRetriesWithTheSameKeyGetsTheFirstResponseAndMakesOneCharge() throws Exception {
        try (PaymentsApi api = PaymentsApi.start("payments_test", 0, Duration.ofMillis(1000))) {
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            DemoClient.Result result = new DemoClient(api.port(), new PrintStream(printed, true, StandardCharsets.UTF_8))
                    .run(Duration.ofMillis(1000));

            assertThat(result.attempts()).isEqualTo(2);
            assertThat(result.retryStatus()).isEqualTo(201);
            assertThat(result.retryReplayed()).isTrue();
            assertThat(result.retryBody()).contains("\"amount_cents\":500");
            assertThat(result.changedStatus()).isEqualTo(422);
            assertThat(result.missingKeyStatus()).isEqualTo(400);
            assertThat(api.charges()).isEqualTo(1);
            assertThat(printed.toString(StandardCharsets.UTF_8)).contains("timed out");
        }
    }

    @Test
    void inTheLeaseModeTheRetryIsAnswered409UntilTheFirstAttemptCompletesThenReplayedWithOneCharge() throws Exception {
        try (PaymentsApi api = PaymentsApi.start("payments_leased_test", 0, Duration.ofMillis(1000), true)) {
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            DemoClient.Result result = new DemoClient(api.port(), new PrintStream(printed, true, StandardCharsets.UTF_8))
                    .run(Duration.ofMillis(1000));

            assertThat(result.attempts()).isGreaterThanOrEqualTo(3); // the timed-out one, a 409, the replayed one
            assertThat(result.retryStatus()).isEqualTo(201);
            assertThat(result.retryReplayed()).isTrue();
            assertThat(result.changedStatus()).isEqualTo(422);
            assertThat(result.missingKeyStatus()).isEqualTo(400);
            assertThat(api.charges()).isEqualTo(1);
            assertThat(printed.toString(StandardCharsets.UTF_8)).contains("409, in progress");
        }
    }
}
