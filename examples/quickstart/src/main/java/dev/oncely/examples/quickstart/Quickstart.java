package dev.oncely.examples.quickstart;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import dev.oncely.jdbc.JdbcDedupStore;
import org.jdbi.v3.core.Handle;

/** The README's quickstart. Run: mvn -q -pl examples/quickstart -am compile exec:java (needs PostgreSQL). */
public final class Quickstart {

    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : "jdbc:postgresql://127.0.0.1:5432/test";
        try (HikariDataSource dataSource = new HikariDataSource()) {
            dataSource.setJdbcUrl(url);
            dataSource.setUsername("postgres");
            try (var connection = dataSource.getConnection(); var statement = connection.createStatement()) {
                statement.execute("CREATE TABLE IF NOT EXISTS charges"
                        + " (event_id text PRIMARY KEY, customer text, cents bigint)");
            }
            run(dataSource);
        }
    }

    static void run(javax.sql.DataSource dataSource) throws Exception {
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
