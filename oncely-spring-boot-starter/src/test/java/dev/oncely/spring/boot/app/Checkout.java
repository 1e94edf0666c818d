package dev.oncely.spring.boot.app;

import dev.oncely.spring.boot.app.PaymentService.ChargeEvent;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** An outer transaction that swallows the idempotent method's failure and writes on. */
@Service
public class Checkout {

    private final PaymentService service;
    private final JdbcTemplate jdbc;

    public Checkout(PaymentService service, JdbcTemplate jdbc) {
        this.service = service;
        this.jdbc = jdbc;
    }

    @Transactional
    public void chargeAndSwallowFailure(ChargeEvent event) {
        try {
            service.chargeWithoutTransactional(event);
        } catch (IllegalStateException swallowed) {
            jdbc.update("INSERT INTO boot_ledger (event_id, amount) VALUES (?, 0)", "after-" + event.id());
        }
    }
}
