package dev.oncely.examples.springboot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Runs the example end to end with few events: the broker, the application, its listeners and its HTTP endpoint. */
class SpringBootExampleTest {

    @Test
    void everyEventIsWrittenOnceAndTheMetricsEndpointCountsProcessedDuplicatesAndInvalidRecords() throws Exception {
        SpringBootExample.Report report = SpringBootExample.run(new SpringBootExample.Options(200, 0, false));

        int payments = 200;
        int refunds = 20;
        int distinct = payments + refunds;
        // every event twice, every tenth a third time, and the refunds without a key
        int sent = 2 * distinct + payments / 10 + refunds / 10 + SpringBootExample.REFUNDS_WITHOUT_KEY;
        assertThat(report.sentRecords()).isEqualTo(sent);
        assertThat(report.distinctEvents()).isEqualTo(distinct);
        // read from the database
        assertThat(report.rows()).as("rows in payments and refunds").isEqualTo(distinct);
        assertThat(report.distinctRows()).as("distinct event ids in the rows").isEqualTo(distinct);
        // read over HTTP from /actuator/metrics/oncely.messages?tag=outcome:...
        assertThat(report.metricsUrl()).matches("http://localhost:\\d+/actuator/metrics/oncely\\.messages");
        assertThat(report.messagesByOutcome())
                .containsEntry("processed", (long) distinct)
                .containsEntry("duplicate", (long) sent - distinct - SpringBootExample.REFUNDS_WITHOUT_KEY)
                .containsEntry("invalid", (long) SpringBootExample.REFUNDS_WITHOUT_KEY)
                .containsEntry("failed", 0L)
                .containsEntry("conflict", 0L);
        assertThat(report.deadLetters()).as("records handed to the recoverer")
                .isEqualTo(SpringBootExample.REFUNDS_WITHOUT_KEY);
        assertThat(report.ok()).isTrue();
    }

    @Test
    void helpListsTheFlagsBeforeStartingABroker() throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            SpringBootExample.main(new String[] {"--help"});
        } finally {
            System.setOut(original);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("Usage: spring-boot-example")
                .contains("--events", "--port", "--keep-running", "--help")
                .doesNotContain("Starting an in-process Kafka broker");
    }

    @Test
    void flagsAreParsedAndBadOnesNamed() {
        assertThat(SpringBootExample.parse("--events", "50", "--port", "0", "--keep-running"))
                .isEqualTo(new SpringBootExample.Options(50, 0, true));
        assertThat(SpringBootExample.parse()).isEqualTo(new SpringBootExample.Options(1000, 8080, false));
        assertThatThrownBy(() -> SpringBootExample.parse("--event", "5"))
                .hasMessage("unknown option '--event'; known: --events N, --port P, --keep-running, --help");
        assertThatThrownBy(() -> SpringBootExample.parse("--events", "0"))
                .hasMessage("--events must be a number from 1 to 1000000, not '0'");
        assertThatThrownBy(() -> SpringBootExample.parse("--events"))
                .hasMessage("--events needs a number from 1 to 1000000");
    }
}
