package dev.oncely.examples.billing;

import java.util.List;
import java.util.Optional;

/** The demo's command-line flags. {@link #parse} throws IllegalArgumentException with a one-line fix. */
record DemoOptions(int events, int consumers, double blipRate, long seed, Optional<String> jdbcUrl, String user,
        String password, boolean help) {

    private static final List<String> KNOWN =
            List.of("--events", "--consumers", "--blip-rate", "--seed", "--jdbc-url", "--user", "--password");

    static final String EMBEDDED_URL = "jdbc:h2:mem:billing_demo;DB_CLOSE_DELAY=-1";

    static final String USAGE = """
            Usage: billing-demo [options]
              (mvn -q -pl examples/billing-demo -am compile exec:java -Dexec.args="[options]")

            Sends the same stream of charge events over an at-least-once channel with network blips through a
            naive consumer and through Oncely, then compares the charges each wrote.

              --events N          charge events the producer sends (default 20000)
              --consumers N       concurrent consumers (default 8)
              --blip-rate P       chance that a network blip loses a message's ack, so the message is
                                  delivered again; 0 to 0.5 (default 0.002, i.e. 0.2%)
              --seed N            random seed; the same seed gives the same stream (default 42)
              --jdbc-url URL      database to run on (default: embedded H2 in memory, nothing to install), e.g.
                                  jdbc:postgresql://127.0.0.1:5432/mydb or jdbc:mariadb://127.0.0.1:3306/mydb
              --user NAME         database user
              --password SECRET   database password
              --help              this text

            The demo drops and re-creates its own tables (billing_demo_*) in that database.
            """;

    static DemoOptions defaults() {
        return parse();
    }

    String url() {
        return jdbcUrl.orElse(EMBEDDED_URL);
    }

    static DemoOptions parse(String... args) {
        int events = 20_000;
        int consumers = 8;
        double blipRate = 0.002;
        long seed = 42;
        String url = null;
        String user = "";
        String password = "";
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            String value = null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("--") && eq > 0) { // --flag=value
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            if (flag.equals("--help") || flag.equals("-h")) {
                return new DemoOptions(events, consumers, blipRate, seed, Optional.empty(), user, password, true);
            }
            if (!KNOWN.contains(flag)) {
                throw new IllegalArgumentException("unknown option '" + flag + "'; known: " + String.join(", ", KNOWN)
                        + ", --help");
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(flag + " needs a value, e.g. " + flag + " " + example(flag));
                }
                value = args[++i];
            }
            switch (flag) {
                case "--events" -> events = intIn(flag, value, 1, 10_000_000);
                case "--consumers" -> consumers = intIn(flag, value, 1, 64);
                case "--blip-rate" -> blipRate = rate(flag, value);
                case "--seed" -> seed = longValue(flag, value);
                case "--jdbc-url" -> url = jdbcUrl(value);
                case "--user" -> user = value;
                default -> password = value;
            }
        }
        return new DemoOptions(events, consumers, blipRate, seed, Optional.ofNullable(url), user, password, false);
    }

    private static int intIn(String flag, String value, int min, int max) {
        long n = longValue(flag, value);
        if (n < min || n > max) {
            throw new IllegalArgumentException(flag + " must be between " + min + " and " + max + ", was " + value);
        }
        return (int) n;
    }

    private static long longValue(String flag, String value) {
        try {
            return Long.parseLong(value.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes a whole number, e.g. " + flag + " " + example(flag)
                    + "; got '" + value + "'");
        }
    }

    private static double rate(String flag, String value) {
        double p;
        try {
            p = value.endsWith("%") ? Double.parseDouble(value.substring(0, value.length() - 1)) / 100
                    : Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes a probability, e.g. 0.002 or 0.2%; got '" + value + "'");
        }
        if (!(p >= 0 && p <= 0.5)) {
            throw new IllegalArgumentException(flag + " must be between 0 and 0.5 (50%), was " + value);
        }
        return p;
    }

    private static String jdbcUrl(String value) {
        if (!value.startsWith("jdbc:")) {
            throw new IllegalArgumentException("--jdbc-url must start with jdbc:, e.g."
                    + " jdbc:postgresql://127.0.0.1:5432/mydb; got '" + value + "'");
        }
        return value;
    }

    private static String example(String flag) {
        return switch (flag) {
            case "--events" -> "10000";
            case "--consumers" -> "8";
            case "--blip-rate" -> "0.002";
            case "--seed" -> "42";
            case "--jdbc-url" -> "jdbc:postgresql://127.0.0.1:5432/mydb";
            default -> "VALUE";
        };
    }
}
