package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Scenario 4, fast variant: consumer processes (real child JVMs) killed with SIGKILL at random points, before the
 * handler, after the business write, after the commit but before the broker ack; their database backends
 * terminated at random; some handler runs failing. After restarts and redelivery, every effect exactly once.
 * The long variant is {@link SoakTest} (scenario 12).
 */
class ProcessKillTest {

    @Test
    void consumersKilledWithSigkillAtRandomPointsLeaveEveryEffectExactlyOnce() throws Exception {
        CrashHarness.Config config = new CrashHarness.Config("s4", 3_000, 50, 2, Duration.ofSeconds(6),
                Duration.ofMillis(1_500), 8, Duration.ofMillis(700), 5, Duration.ofMinutes(3), 4L, null);
        CrashHarness.Result result = new CrashHarness(Databases.postgres(), config).run();
        System.out.println("scenario 4: " + result.summary());

        assertThat(result.sigkills()).as("SIGKILLs: %s", result.summary()).isEqualTo(8);
        assertThat(result.duplicateEffects()).as("duplicate effects: %s", result.summary()).isZero();
        assertThat(result.lostMessages()).as("lost messages: %s", result.summary()).isZero();
        assertThat(result.unknownEffects()).as("effects of unknown keys").isZero();
        assertThat(result.claims()).as("claims").isEqualTo(3_000);
    }
}
