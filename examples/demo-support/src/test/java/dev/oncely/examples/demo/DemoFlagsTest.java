package dev.oncely.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DemoFlagsTest {

    private static final DemoFlags FLAGS =
            new DemoFlags("--events", "1000", "--rate", "0.002", "--url", "jdbc:postgresql://127.0.0.1:5432/mydb");

    @Test
    void flagsGivenAsTwoWordsOrWithAnEqualsSignAreReadAndTheOthersTakeTheirDefault() {
        DemoFlags.Given given = FLAGS.parse("--events", "1_500", "--rate=2%");

        assertThat(given.intIn("--events", 7, 1, 10_000)).isEqualTo(1500);
        assertThat(given.share("--rate", 0.5, 0.5)).isEqualTo(0.02);
        assertThat(given.jdbcUrl("--url")).isEmpty();
        assertThat(given.longValue("--seed", 42)).isEqualTo(42);
        assertThat(given.help()).isFalse();
    }

    @Test
    void anUnknownFlagIsRefusedWithTheKnownOnesInTheirOrder() {
        assertThatThrownBy(() -> FLAGS.parse("--evnts", "1"))
                .hasMessage("unknown option '--evnts'; known: --events, --rate, --url, --help");
    }

    @Test
    void aFlagWithoutAValueIsRefusedWithItsExample() {
        assertThatThrownBy(() -> FLAGS.parse("--events")).hasMessage("--events needs a value, e.g. --events 1000");
    }

    @Test
    void aShareOutOfRangeOrNotANumberSaysTheRangeAndAnExampleAsFractionAndPercentage() {
        assertThatThrownBy(() -> FLAGS.parse("--rate", "0.6").share("--rate", 0.1, 0.5))
                .hasMessage("--rate must be between 0 and 0.5 (50%), was 0.6");
        assertThatThrownBy(() -> FLAGS.parse("--rate", "lots").share("--rate", 0.1, 1))
                .hasMessage("--rate takes a share, e.g. 0.002 or 0.2%; got 'lots'");
    }

    @Test
    void aUrlThatIsNotJdbcIsRefusedWithAnExample() {
        assertThatThrownBy(() -> FLAGS.parse("--url", "postgres://x").jdbcUrl("--url"))
                .hasMessage("--url must start with jdbc:, e.g. jdbc:postgresql://127.0.0.1:5432/mydb; got 'postgres://x'");
    }

    @Test
    void helpStopsReadingSoLaterFlagsAreIgnored() {
        DemoFlags.Given given = FLAGS.parse("--events", "5", "--help", "--nonsense");

        assertThat(given.help()).isTrue();
        assertThat(given.intIn("--events", 7, 1, 10)).isEqualTo(5);
    }
}
