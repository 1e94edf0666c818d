package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Scenario 12, the soak: at least 100,000 unique messages through several consumer processes killed with SIGKILL
 * at random, their backends terminated at random and their handlers failing at random, for at least the given
 * minutes; output set equals input set, zero duplicates. Not part of {@code mvn verify}:
 *
 * <pre>
 * ONCELY_TEST_POSTGRES_URL=jdbc:postgresql://127.0.0.1:5432/yourdb ONCELY_TEST_POSTGRES_USER=postgres \
 *   mvn -o verify -pl oncely-reliability -am -Psoak -Doncely.soak.minutes=10
 * </pre>
 *
 * Other knobs (system properties): oncely.soak.messages (100000), oncely.soak.consumers (3),
 * oncely.soak.killEveryMillis (2000, mean time a consumer runs before its SIGKILL), oncely.soak.backendKillEveryMillis
 * (1000), oncely.soak.handlerFailurePermille (5), oncely.soak.minFaults (1000). It refuses the shared database
 * {@code test}. Figures go to stdout and target/soak-result.txt.
 */
@Tag("soak")
class SoakTest {

    @Test
    void soak() throws Exception {
        TestDatabase db = Databases.postgres();
        assertThat(db.jdbcUrl()).as("The soak writes ~100,000 rows per table and kills backends: point it at a"
                + " database of your own with ONCELY_TEST_POSTGRES_URL, not the shared 'test' database")
                .doesNotContainPattern("/test(\\?|$)");
        int minutes = Integer.getInteger("oncely.soak.minutes", 10);
        int messages = Integer.getInteger("oncely.soak.messages", 100_000);
        int consumers = Integer.getInteger("oncely.soak.consumers", 3);
        long killEveryMillis = Long.getLong("oncely.soak.killEveryMillis", 2_000);
        long backendKillEveryMillis = Long.getLong("oncely.soak.backendKillEveryMillis", 1_000);
        int handlerFailurePermille = Integer.getInteger("oncely.soak.handlerFailurePermille", 5);
        CrashHarness.Config config = new CrashHarness.Config("soak", messages, 20, consumers,
                Duration.ofMinutes(minutes), Duration.ofMillis(killEveryMillis), -1,
                Duration.ofMillis(backendKillEveryMillis), handlerFailurePermille,
                Duration.ofMinutes(minutes + 20L), System.nanoTime(), Duration.ofSeconds(30));
        Instant started = Instant.now();
        CrashHarness.Result result = new CrashHarness(db, config).run();
        String line = "soak " + started + ", " + minutes + " min of publishing, " + consumers + " consumer processes: "
                + result.summary();
        System.out.println(line);
        Files.writeString(Path.of("target", "soak-result.txt"), line + System.lineSeparator(),
                StandardCharsets.UTF_8);

        assertThat(result.duplicateEffects()).as(line).isZero();
        assertThat(result.lostMessages()).as(line).isZero();
        assertThat(result.unknownEffects()).as(line).isZero();
        assertThat(result.claims()).as(line).isEqualTo(messages);
        assertThat(result.faults()).as("injected faults: " + line)
                .isGreaterThanOrEqualTo(Long.getLong("oncely.soak.minFaults", 1_000));
    }
}
