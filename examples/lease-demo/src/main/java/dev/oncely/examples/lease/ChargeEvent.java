package dev.oncely.examples.lease;

/** "Charge this customer": what the billing run receives. {@code eventId} is set once by the producer. */
public record ChargeEvent(String eventId, String customer, long cents) {
}
