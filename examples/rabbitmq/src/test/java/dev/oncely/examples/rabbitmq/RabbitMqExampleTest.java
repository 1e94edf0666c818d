package dev.oncely.examples.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The README promises that -Dexec.args="--help" lists each example's flags. */
class RabbitMqExampleTest {

    @Test
    void helpListsTheFlagsWithoutConnectingToAnything() throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            RabbitMqExample.main(new String[] {"--help"});
        } finally {
            System.setOut(original);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("Usage: rabbitmq-example")
                .contains("--jdbc-url", "--user", "--password", "--amqp-uri", "--orders", "--duplicates",
                        "--channels", "--help");
    }

    @Test
    void anUnknownFlagIsNamedWithTheKnownOnes() {
        assertThatThrownBy(() -> RabbitMqExample.parse("--queue", "x")).hasMessageStartingWith(
                "unknown option '--queue'; known: --jdbc-url, --user, --password, --amqp-uri");
    }
}
