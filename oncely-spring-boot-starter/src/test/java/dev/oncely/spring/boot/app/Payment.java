package dev.oncely.spring.boot.app;

import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A business row written through JPA. */
@Entity
@Table(name = "boot_payments")
public class Payment {

    @Id
    private String eventId;

    private long amount;

    protected Payment() {
    }

    public Payment(String eventId, long amount) {
        this.eventId = eventId;
        this.amount = amount;
    }

    public String getEventId() {
        return eventId;
    }

    public long getAmount() {
        return amount;
    }
}
