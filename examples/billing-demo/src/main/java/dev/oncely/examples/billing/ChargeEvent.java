package dev.oncely.examples.billing;

/** "Charge this customer": what the billing service receives. {@code eventId} is set once by the producer. */
public record ChargeEvent(String eventId, String customer, long cents) {
}
