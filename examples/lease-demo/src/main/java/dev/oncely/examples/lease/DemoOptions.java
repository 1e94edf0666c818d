package dev.oncely.examples.lease;

import java.util.List;
import java.util.Optional;

/** The demo's command-line flags. {@link #parse} throws IllegalArgumentException with a one-line fix. */
record DemoOptions(int events, int consumers, double faultRate, int leaseSeconds, long seed, Optional<String> url,
        String user, String password, boolean help) {

    private static final List<String> KNOWN = List.of("--events", "--consumers", "--fault-rate", "--lease-seconds",
            "--seed", "--url", "--user", "--password");

    static final String EMBEDDED_URL = "jdbc:h2:mem:lease_demo;DB_CLOSE_DELAY=-1";

    static final String USAGE = """
            Usage: lease-demo [options]
              (mvn -q -pl examples/lease-demo -am compile exec:java -Dexec.args="[options]")

            Charges a stream of events by calling a payment service the demo starts on localhost (it honours
            Idempotency-Key like Stripe and counts its charges itself), with consumers that crash before, during
            and after the call, responses lost to a timeout and consumers that stall past their lease. Four
            consumers run the same stream in turn: two naive ones, Oncely's lease mode without and with the
            downstream key; the payment service then says who was charged twice and who never.

              --events N          charge events (default 1000)
              --consumers N       concurrent consumer threads (default 8); a dead one is replaced
              --fault-rate P      share of events whose first delivery hits a fault, the five kinds in turn;
                                  0 to 1 (default 0.05, i.e. 5%)
              --lease-seconds N   Oncely's lease, 2 to 60 (default 2; longer than the call's 1 s timeout);
                                  a dead or stalled run's event waits 1.5 leases for its redelivery
              --seed N            random seed; the same seed gives the same faults (default 42)
              --url URL           database (default: embedded H2 in memory, nothing to install), e.g.
                                  jdbc:postgresql://127.0.0.1:5432/mydb or jdbc:mariadb://127.0.0.1:3306/mydb
              --user NAME         database user
              --password SECRET   database password
              --help              this text

            The demo drops and re-creates its own tables (lease_demo_*) in that database.
            """;

    String jdbcUrl() {
        return url.orElse(EMBEDDED_URL);
    }

    static DemoOptions parse(String... args) {
        int events = 1000;
        int consumers = 8;
        double faultRate = 0.05;
        int leaseSeconds = 2;
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
                return new DemoOptions(events, consumers, faultRate, leaseSeconds, seed, Optional.empty(), user,
                        password, true);
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
                case "--events" -> events = intIn(flag, value, 1, 1_000_000);
                case "--consumers" -> consumers = intIn(flag, value, 1, 64);
                case "--fault-rate" -> faultRate = rate(flag, value);
                case "--lease-seconds" -> leaseSeconds = intIn(flag, value, 2, 60);
                case "--seed" -> seed = longValue(flag, value);
                case "--url" -> url = jdbcUrl(value);
                case "--user" -> user = value;
                default -> password = value;
            }
        }
        return new DemoOptions(events, consumers, faultRate, leaseSeconds, seed, Optional.ofNullable(url), user,
                password, false);
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
            throw new IllegalArgumentException(flag + " takes a share, e.g. 0.05 or 5%; got '" + value + "'");
        }
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException(flag + " must be between 0 and 1 (100%), was " + value);
        }
        return p;
    }

    private static String jdbcUrl(String value) {
        if (!value.startsWith("jdbc:")) {
            throw new IllegalArgumentException("--url must start with jdbc:, e.g."
                    + " jdbc:postgresql://127.0.0.1:5432/mydb; got '" + value + "'");
        }
        return value;
    }

    private static String example(String flag) {
        return switch (flag) {
            case "--events" -> "1000";
            case "--consumers" -> "8";
            case "--fault-rate" -> "0.05";
            case "--lease-seconds" -> "2";
            case "--seed" -> "42";
            case "--url" -> "jdbc:postgresql://127.0.0.1:5432/mydb";
            default -> "VALUE";
        };
    }
}
