package dev.oncely.examples.quickstart;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;

/** The README's quickstart. Run: mvn -q -pl examples/quickstart -am compile exec:java (needs PostgreSQL). */
public final class Quickstart {

    static final String USAGE = """
            Usage: quickstart [options]
              (mvn -q -pl examples/quickstart -am compile exec:java -Dexec.args="[options]")

            The README's quickstart: creates processed_events and charges if missing, processes one charge event
            twice and prints PROCESSED then DUPLICATE.

              --jdbc-url URL      PostgreSQL to run on (default jdbc:postgresql://127.0.0.1:5432/test)
              --user NAME         database user (default postgres)
              --password SECRET   database password (default empty)
              --help              this text
            """;

    /** The business table, exactly as the README shows it (QuickstartTest checks). */
    static final String CHARGES_DDL = """
            CREATE TABLE charges (
                event_id varchar(255) PRIMARY KEY,
                customer varchar(100) NOT NULL,
                cents    bigint       NOT NULL
            )""";

    private static final List<String> FLAGS = List.of("--jdbc-url", "--user", "--password");

    public static void main(String[] args) throws Exception {
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status); // exec:java runs in Maven's JVM: exit rather than throw into a Maven error block
        }
    }

    /** The whole program; returns the exit status (0 ok, 2 bad flag). */
    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--help") || args[i].equals("-h")) {
                out.print(USAGE);
                return 0;
            }
            if (!FLAGS.contains(args[i]) || i + 1 >= args.length) {
                err.println("quickstart: " + (FLAGS.contains(args[i]) ? args[i] + " needs a value"
                        : "unknown option '" + args[i] + "'") + "; known: " + String.join(", ", FLAGS) + ", --help");
                return 2;
            }
            options.put(args[i], args[++i]);
        }
        try (HikariDataSource dataSource = new HikariDataSource()) {
            dataSource.setJdbcUrl(options.getOrDefault("--jdbc-url", "jdbc:postgresql://127.0.0.1:5432/test"));
            dataSource.setUsername(options.getOrDefault("--user", "postgres"));
            dataSource.setPassword(options.getOrDefault("--password", ""));
            createChargesTable(dataSource);
            run(dataSource);
        }
        return 0;
    }

    /** The README's business table, if missing; use your migration tool in production. */
    static void createChargesTable(DataSource dataSource) throws Exception {
        try (var connection = dataSource.getConnection(); var statement = connection.createStatement()) {
            statement.execute(CHARGES_DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"));
        }
    }

    static void run(DataSource dataSource) throws Exception {
        // --- quickstart ---
        record ChargeEvent(String eventId, String customer, long cents) { }

        JdbcDedupStore store = JdbcDedupStore.builder(dataSource).build()
                .createSchemaIfMissing();            // or apply dev/oncely/jdbc/postgresql.sql yourself

        IdempotentHandler<ChargeEvent, Void, ?> charges = IdempotentHandler.<ChargeEvent, Void>builder(store)
                .consumer("billing")                 // keys are unique per consumer
                .key(ChargeEvent::eventId)           // what identifies the event, stable across redeliveries
                .handler((event, tx) -> {            // runs once per key, in the claim's transaction
                    tx.unwrap(Handle.class).execute(
                            "INSERT INTO charges (event_id, customer, cents) VALUES (?, ?, ?)",
                            event.eventId(), event.customer(), event.cents());
                    return null;
                })
                .build();

        ChargeEvent event = new ChargeEvent("evt-" + System.nanoTime(), "alice", 1999);
        Outcome<Void> first = charges.process(event);      // PROCESSED: charge and claim committed together
        Outcome<Void> redelivery = charges.process(event); // DUPLICATE: nothing charged twice
        System.out.println(first.status() + " then " + redelivery.status());
        // --- end ---
    }

    private Quickstart() {
    }
}
