package dev.oncely.examples.demo;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A demo's command-line flags: {@code --flag value} or {@code --flag=value}, {@code --help} (or {@code -h}), and
 * an {@link IllegalArgumentException} that says what to type for anything else. Each flag has an example value,
 * shown in those messages.
 */
public final class DemoFlags {

    private final Map<String, String> examples;
    private final String known;

    /**
     * @param flagsAndExamples every flag the demo knows, in the order to list them, each followed by an example
     *                         value: {@code "--events", "1000", "--seed", "42"}
     */
    public DemoFlags(String... flagsAndExamples) {
        if (flagsAndExamples.length % 2 != 0) {
            throw new IllegalArgumentException("give each flag with an example value, in pairs; got "
                    + flagsAndExamples.length + " strings");
        }
        Map<String, String> ordered = new LinkedHashMap<>();
        for (int i = 0; i < flagsAndExamples.length; i += 2) {
            ordered.put(flagsAndExamples[i], flagsAndExamples[i + 1]);
        }
        this.examples = Map.copyOf(ordered);
        this.known = String.join(", ", ordered.keySet());
    }

    /** Reads the arguments; stops at {@code --help}, which {@link Given#help()} then reports. */
    public Given parse(String... args) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            String value = null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("--") && eq > 0) { // --flag=value
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            if (flag.equals("--help") || flag.equals("-h")) {
                return new Given(values, true);
            }
            if (!examples.containsKey(flag)) {
                throw new IllegalArgumentException("unknown option '" + flag + "'; known: " + known + ", --help");
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(flag + " needs a value, e.g. " + flag + " " + example(flag));
                }
                value = args[++i];
            }
            values.put(flag, value);
        }
        return new Given(values, false);
    }

    private String example(String flag) {
        return examples.getOrDefault(flag, "VALUE");
    }

    /** The flags given; each getter takes the default for a flag not given and checks the value of one given. */
    public final class Given {
        private final Map<String, String> values;
        private final boolean help;

        private Given(Map<String, String> values, boolean help) {
            this.values = values;
            this.help = help;
        }

        /** True if --help was given: the demo prints its usage and runs nothing. */
        public boolean help() {
            return help;
        }

        public String text(String flag, String byDefault) {
            return values.getOrDefault(flag, byDefault);
        }

        public int intIn(String flag, int byDefault, int min, int max) {
            if (!values.containsKey(flag)) {
                return byDefault;
            }
            String value = values.get(flag);
            long n = wholeNumber(flag, value);
            if (n < min || n > max) {
                throw new IllegalArgumentException(flag + " must be between " + min + " and " + max + ", was "
                        + value);
            }
            return (int) n;
        }

        public long longValue(String flag, long byDefault) {
            return values.containsKey(flag) ? wholeNumber(flag, values.get(flag)) : byDefault;
        }

        /** A share from 0 to max, as a fraction (0.05) or a percentage (5%). */
        public double share(String flag, double byDefault, double max) {
            if (!values.containsKey(flag)) {
                return byDefault;
            }
            String value = values.get(flag);
            double p;
            try {
                p = value.endsWith("%") ? Double.parseDouble(value.substring(0, value.length() - 1)) / 100
                        : Double.parseDouble(value);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " takes a share, e.g. " + example(flag) + " or "
                        + percent(Double.parseDouble(example(flag))) + "; got '" + value + "'");
            }
            if (!(p >= 0 && p <= max)) {
                throw new IllegalArgumentException(flag + " must be between 0 and " + plain(max) + " ("
                        + percent(max) + "), was " + value);
            }
            return p;
        }

        /** A JDBC URL, if the flag was given. */
        public Optional<String> jdbcUrl(String flag) {
            String value = values.get(flag);
            if (value != null && !value.startsWith("jdbc:")) {
                throw new IllegalArgumentException(flag + " must start with jdbc:, e.g. " + example(flag) + "; got '"
                        + value + "'");
            }
            return Optional.ofNullable(value);
        }

        private long wholeNumber(String flag, String value) {
            try {
                return Long.parseLong(value.replace("_", ""));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " takes a whole number, e.g. " + flag + " " + example(flag)
                        + "; got '" + value + "'");
            }
        }
    }

    private static String plain(double d) {
        return BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
    }

    private static String percent(double share) {
        return BigDecimal.valueOf(share).movePointRight(2).stripTrailingZeros().toPlainString() + "%";
    }
}
