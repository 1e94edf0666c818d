package dev.oncely.examples.lease;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** What goes wrong on an event's first delivery, around its charge call. */
enum Fault {
    /** No fault. */
    NONE("none"),
    /** The consumer dies before it calls the payment service. */
    CRASH_BEFORE_CALL("crash before the call"),
    /** The consumer dies while the payment service holds its request (the service then charges). */
    CRASH_DURING_CALL("crash during the call"),
    /** The consumer dies after the service charged and answered, before it records anything. */
    CRASH_AFTER_CALL("crash after the call"),
    /** The service charged, but the response came after the consumer's timeout: the consumer saw an error. */
    RESPONSE_LOST("response lost (timeout)"),
    /**
     * The consumer stalls after the call (a long GC pause) until another consumer has handled the event's redelivery,
     * then carries on as if nothing happened.
     */
    STALL_PAST_LEASE("stall past the lease");

    final String label;

    Fault(String label) {
        this.label = label;
    }

    static final List<Fault> INJECTED = List.of(CRASH_BEFORE_CALL, CRASH_DURING_CALL, CRASH_AFTER_CALL,
            RESPONSE_LOST, STALL_PAST_LEASE);

    /**
     * The fault of each event's first delivery, the same for every consumer compared: a share {@code rate} of the
     * events get one, the kinds taken in turn so each appears.
     */
    static List<Fault> plan(int events, double rate, long seed) {
        Random random = new Random(seed);
        List<Fault> plan = new ArrayList<>(events);
        int next = 0;
        for (int i = 0; i < events; i++) {
            plan.add(random.nextDouble() < rate ? INJECTED.get(next++ % INJECTED.size()) : NONE);
        }
        return plan;
    }
}
