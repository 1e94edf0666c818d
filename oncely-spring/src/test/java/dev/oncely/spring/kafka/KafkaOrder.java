package dev.oncely.spring.kafka;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A business row written through a JPA repository by a batch listener (surrogate key: duplicates would show). */
@Entity
@Table(name = "spring_kafka_jpa_orders")
public class KafkaOrder {
    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "event_id", nullable = false)
    private String eventId;

    @Column(name = "payload", nullable = false)
    private String payload;

    protected KafkaOrder() {
    }

    public KafkaOrder(String eventId, String payload) {
        this.eventId = eventId;
        this.payload = payload;
    }

    public String getEventId() {
        return eventId;
    }
}
