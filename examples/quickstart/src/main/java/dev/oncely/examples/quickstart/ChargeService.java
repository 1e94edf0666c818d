package dev.oncely.examples.quickstart;

import dev.oncely.IdempotentHandler;
import java.sql.Connection;
import dev.oncely.ProcessingContext;
import dev.oncely.DedupStore;
import java.util.function.Function;

/**
 * The shape that keeps handlers unit-testable: business writes go through an interface of your own, obtained
 * from the processing context. Production passes a JDBC implementation bound to {@code tx.unwrap(Connection.class)}; tests
 * pass a fake and the in-memory store (see ChargeServiceTest).
 */
public final class ChargeService {

    /** A charge request from the broker. */
    public record ChargeEvent(String eventId, String customer, long cents) {
    }

    /** Where charges are written; the JDBC implementation writes on the claim's connection. */
    public interface Ledger {
        void charge(String customer, long cents) throws Exception;
    }

    private final IdempotentHandler<ChargeEvent, String, ?> handler;

    public ChargeService(DedupStore store, Function<ProcessingContext, Ledger> ledgerInTransaction) {
        this.handler = IdempotentHandler.<ChargeEvent, String>builder(store)
                .consumer("billing")
                .key(ChargeEvent::eventId)
                .handler((event, tx) -> {
                    ledgerInTransaction.apply(tx).charge(event.customer(), event.cents());
                    return "charged " + event.cents() + " to " + event.customer();
                })
                .build();
    }

    /** Returns true if this delivery charged, false if it was a redelivery. */
    public boolean onMessage(ChargeEvent event) throws Exception {
        return handler.process(event).isProcessed();
    }
}
