package dev.oncely.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.examples.quickstart.ChargeService.ChargeEvent;
import dev.oncely.inmemory.InMemoryDedupStore;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How users unit-test a handler: the in-memory store and a fake ledger, no database. */
class ChargeServiceTest {

    private final List<String> charged = new ArrayList<>();
    private final InMemoryDedupStore store = InMemoryDedupStore.create();

    @Test
    void aRedeliveredChargeIsChargedOnce() throws Exception {
        ChargeService service = new ChargeService(store, tx -> (customer, cents) -> charged.add(customer + ":" + cents));
        ChargeEvent event = new ChargeEvent("evt-1", "alice", 1999);

        assertThat(service.onMessage(event)).isTrue();
        assertThat(service.onMessage(event)).isFalse();

        assertThat(charged).containsExactly("alice:1999");
        assertThat(store.contains("billing", "evt-1")).isTrue();
    }

    @Test
    void aFailedChargeIsRetriedOnRedelivery() throws Exception {
        IllegalStateException down = new IllegalStateException("ledger down");
        boolean[] fail = {true};
        ChargeService service = new ChargeService(store, tx -> (customer, cents) -> {
            if (fail[0]) {
                throw down;
            }
            charged.add(customer);
        });
        ChargeEvent event = new ChargeEvent("evt-2", "bob", 500);

        assertThat(catchThrowable(() -> service.onMessage(event))).isSameAs(down);
        assertThat(store.contains("billing", "evt-2")).as("key released").isFalse();
        fail[0] = false;
        assertThat(service.onMessage(event)).isTrue();
        assertThat(charged).containsExactly("bob");
    }
}
