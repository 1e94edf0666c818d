package dev.oncely.examples.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The README promises that -Dexec.args="--help" lists each example's flags. */
class KafkaExampleTest {

    @Test
    void helpListsTheFlagsBeforeStartingABroker() throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            KafkaExample.main(new String[] {"--help"});
        } finally {
            System.setOut(original);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("Usage: kafka-example")
                .contains("--jdbc-url", "--user", "--password", "--help")
                .doesNotContain("Starting an in-process Kafka broker");
    }

    @Test
    void anUnknownFlagIsNamedWithTheKnownOnes() {
        assertThatThrownBy(() -> KafkaExample.parse("--jdbc", "x"))
                .hasMessage("unknown option '--jdbc'; known: --jdbc-url URL, --user NAME, --password SECRET, --help");
    }
}
