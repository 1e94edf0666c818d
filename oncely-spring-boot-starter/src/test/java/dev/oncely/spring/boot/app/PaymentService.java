package dev.oncely.spring.boot.app;

import dev.oncely.spring.Idempotent;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/** Writes through a JPA repository and through JdbcTemplate in one annotated method. */
@Service
public class PaymentService {

    private final PaymentRepository payments;
    private final JdbcTemplate jdbc;

    public PaymentService(PaymentRepository payments, JdbcTemplate jdbc) {
        this.payments = payments;
        this.jdbc = jdbc;
    }

    /** An event: its id, its amount, and what the method throws after its writes (null: nothing). */
    public record ChargeEvent(String id, long amount, RuntimeException failure) {
    }

    /** Without @Transactional of its own: inside a caller's transaction, the claim joins it. */
    @Idempotent(consumer = "boot-billing-plain", key = "#event.id")
    public void chargeWithoutTransactional(ChargeEvent event) {
        payments.save(new Payment(event.id(), event.amount()));
        payments.flush();
        if (event.failure() != null) {
            throw event.failure();
        }
    }

    /**
     * Returns the name of the transaction the method ran in: @Transactional's (the method) when the claim runs
     * inside it.
     */
    @Idempotent(consumer = "boot-billing", key = "#event.id")
    @Transactional
    public String charge(ChargeEvent event) {
        payments.save(new Payment(event.id(), event.amount()));
        payments.flush();
        jdbc.update("INSERT INTO boot_ledger (event_id, amount) VALUES (?, ?)", event.id(), event.amount());
        if (event.failure() != null) {
            throw event.failure();
        }
        return TransactionSynchronizationManager.getCurrentTransactionName();
    }
}
