package dev.oncely.examples.billing;

import dev.oncely.examples.demo.DemoFlags;
import java.util.Optional;

/** The demo's command-line flags. {@link #parse} throws IllegalArgumentException with a one-line fix. */
record DemoOptions(int events, int consumers, double blipRate, long seed, Optional<String> jdbcUrl, String user,
        String password, boolean help) {

    /** The flags, in the order of the usage, each with the example shown when it is wrong. */
    private static final DemoFlags FLAGS = new DemoFlags("--events", "10000", "--consumers", "8",
            "--blip-rate", "0.002", "--seed", "42", "--jdbc-url", "jdbc:postgresql://127.0.0.1:5432/mydb",
            "--user", "NAME", "--password", "SECRET");

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
        DemoFlags.Given given = FLAGS.parse(args);
        return new DemoOptions(given.intIn("--events", 20_000, 1, 10_000_000), given.intIn("--consumers", 8, 1, 64),
                given.share("--blip-rate", 0.002, 0.5), given.longValue("--seed", 42), given.jdbcUrl("--jdbc-url"),
                given.text("--user", ""), given.text("--password", ""), given.help());
    }
}
