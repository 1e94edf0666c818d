package dev.oncely.examples.springboot;

import dev.oncely.spring.Idempotent;
import dev.oncely.spring.IdempotentBatch;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * The two listeners. Each claim commits in the same database transaction as the rows the method writes, and the
 * container commits the Kafka offsets only after the method returned, so after that commit.
 */
@Component
public class PaymentListeners {

    private final JdbcTemplate jdbc;

    public PaymentListeners(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * A batch listener: one set-based claim for the whole batch, then one call with the fresh records only
     * (duplicates of earlier batches and repeats within this one left out), written in one JDBC batch.
     */
    @KafkaListener(id = "payments", topics = SpringBootExample.PAYMENTS, batch = "true")
    @IdempotentBatch(consumer = "payments", key = "#record.key()")
    @Transactional
    public void onPayments(List<ConsumerRecord<String, String>> records) {
        jdbc.batchUpdate("INSERT INTO payments (event_id, amount_cents) VALUES (?, ?)",
                records.stream().map(r -> new Object[] {r.key(), Long.parseLong(r.value())}).toList());
    }

    /**
     * A record listener: one claim per record. A record without a key is an {@code InvalidMessageException}:
     * Oncely's error handler hands it to the recoverer at once ({@link InvalidRecords}), and only that record is
     * skipped. (In a batch listener it would take its whole batch to the recoverer with it.)
     */
    @KafkaListener(id = "refunds", topics = SpringBootExample.REFUNDS)
    @Idempotent(consumer = "refunds", key = "#record.key()")
    @Transactional
    public void onRefund(ConsumerRecord<String, String> record) {
        jdbc.update("INSERT INTO refunds (event_id, amount_cents) VALUES (?, ?)", record.key(),
                Long.parseLong(record.value()));
    }
}
