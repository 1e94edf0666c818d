package dev.oncely.examples.lease;

import dev.oncely.examples.demo.DemoFlags;
import java.util.Optional;

/** The demo's command-line flags. {@link #parse} throws IllegalArgumentException with a one-line fix. */
record DemoOptions(int events, int consumers, double faultRate, int leaseSeconds, long seed, Optional<String> url,
        String user, String password, boolean help) {

    /** The flags, in the order of the usage, each with the example shown when it is wrong. */
    private static final DemoFlags FLAGS = new DemoFlags("--events", "1000", "--consumers", "8",
            "--fault-rate", "0.05", "--lease-seconds", "2", "--seed", "42",
            "--url", "jdbc:postgresql://127.0.0.1:5432/mydb", "--user", "NAME", "--password", "SECRET");

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
        DemoFlags.Given given = FLAGS.parse(args);
        return new DemoOptions(given.intIn("--events", 1000, 1, 1_000_000), given.intIn("--consumers", 8, 1, 64),
                given.share("--fault-rate", 0.05, 1), given.intIn("--lease-seconds", 2, 2, 60),
                given.longValue("--seed", 42), given.jdbcUrl("--url"), given.text("--user", ""),
                given.text("--password", ""), given.help());
    }
}
