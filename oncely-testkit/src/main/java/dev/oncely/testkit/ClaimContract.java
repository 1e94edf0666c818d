package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.recording;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import org.junit.jupiter.api.Test;

/**
 * Claims, one message at a time: a duplicate is reported and not processed again, a failing handler releases its
 * key, each consumer has its own keys, and a store on another table uses that table.
 */
public interface ClaimContract extends StoreFixture {

    @Test
    default void sequentialDuplicateIsReportedAndNotProcessedAgain() throws Exception {
        IdempotentHandler<Msg, String, ?> h = recording(this, store(), "billing");

        Outcome<String> first = h.process(Msg.of("evt-1"));
        Outcome<String> second = h.process(Msg.of("evt-1"));

        assertThat(first.isProcessed()).isTrue();
        assertThat(first.result()).contains("done-evt-1");
        assertThat(second.isDuplicate()).isTrue();
        assertThat(second.key()).isEqualTo("evt-1");
        assertThat(second.firstProcessedAt()).isEqualTo(first.firstProcessedAt());
        assertThat(second.result()).as("no codec, nothing replayed").isEmpty();
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void handlerFailureRollsBackAndReleasesTheKey() throws Exception {
        DedupStore store = store();
        Boom boom = new Boom("payment gateway said no");
        IdempotentHandler<Msg, String, ?> failing = builder(store, "billing").handler((m, ctx) -> {
            if (capabilities().transactionalEffects()) {
                recordEffect(ctx);
            }
            throw boom;
        }).build();

        Throwable thrown = catchThrowable(() -> failing.process(Msg.of("evt-1")));

        assertThat(thrown).as("the handler's own exception, same instance").isSameAs(boom);
        assertThat(effects("billing", "evt-1")).as("business write rolled back").isZero();
        assertThat(claimRows(DEFAULT_TABLE)).as("claim rolled back").isZero();

        Outcome<String> redelivery = recording(this, store, "billing").process(Msg.of("evt-1"));
        assertThat(redelivery.isProcessed()).isTrue();
        assertThat(effects("billing", "evt-1")).isEqualTo(1);
    }

    @Test
    default void eachConsumerProcessesTheSameEventOnce() throws Exception {
        DedupStore store = store();
        IdempotentHandler<Msg, String, ?> billing = recording(this, store, "billing");
        IdempotentHandler<Msg, String, ?> shipping = recording(this, store, "shipping");

        assertThat(billing.process(Msg.of("order-7")).isProcessed()).isTrue();
        assertThat(shipping.process(Msg.of("order-7")).isProcessed()).isTrue();
        assertThat(billing.process(Msg.of("order-7")).isDuplicate()).isTrue();
        assertThat(shipping.process(Msg.of("order-7")).isDuplicate()).isTrue();

        assertThat(effects("billing", "order-7")).isEqualTo(1);
        assertThat(effects("shipping", "order-7")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(2);
    }

    @Test
    default void customTableNameIsUsed() throws Exception {
        DedupStore custom = storeOnTable("oncely_custom_events");
        IdempotentHandler<Msg, String, ?> h = recording(this, custom, "billing");

        assertThat(h.process(Msg.of("evt-1")).isProcessed()).isTrue();
        assertThat(h.process(Msg.of("evt-1")).isDuplicate()).isTrue();

        assertThat(claimRows("oncely_custom_events")).isEqualTo(1);
        assertThat(claimRows(DEFAULT_TABLE)).isZero();
        assertThat(custom.describe()).contains("oncely_custom_events");
    }
}
