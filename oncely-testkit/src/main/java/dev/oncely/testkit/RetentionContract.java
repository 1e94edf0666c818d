package dev.oncely.testkit;

import static dev.oncely.testkit.Contracts.await;
import static dev.oncely.testkit.Contracts.builder;
import static dev.oncely.testkit.Contracts.effectHandler;
import static dev.oncely.testkit.Contracts.recording;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.Outcome;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Retention: an expired key is processed again and purged, and a claim never expires under its own open
 * transaction. The fixture's {@link StoreFixture#letStoreClockPass} moves the store's clock.
 */
public interface RetentionContract extends StoreFixture {

    @Test
    default void anExpiredKeyIsProcessedAgainAndPurged() throws Exception {
        DedupStore store = store();
        IdempotentHandler<Msg, String, ?> shortLived = builder(store, "billing").retentionForTestsOnly(Duration.ofSeconds(1))
                .handler(effectHandler(this)).build();
        IdempotentHandler<Msg, String, ?> forever = recording(this, store, "billing");

        assertThat(shortLived.process(Msg.of("short")).isProcessed()).isTrue();
        assertThat(forever.process(Msg.of("kept")).isProcessed()).isTrue();
        assertThat(shortLived.process(Msg.of("short")).isDuplicate()).as("inside the window").isTrue();
        assertThat(store.purgeExpired(100)).as("nothing has expired yet").isZero();

        letStoreClockPass(Duration.ofMillis(1500));

        assertThat(shortLived.process(Msg.of("short")).isProcessed()).as("expired: claimable again").isTrue();
        assertThat(effects("billing", "short")).isEqualTo(2);
        assertThat(shortLived.process(Msg.of("short")).isDuplicate()).as("the new claim holds").isTrue();

        letStoreClockPass(Duration.ofMillis(1500));
        if (capabilities().purgesSingleKeys()) {
            assertThat(store.purgeExpired(100)).isEqualTo(1);
        } else {
            assertThat(store.purgeExpired(100)).as("its partition still takes claims: nothing to drop yet").isZero();
        }
        assertThat(claimRows(DEFAULT_TABLE)).as("only the unexpiring key is left").isEqualTo(1);
        assertThat(forever.process(Msg.of("kept")).isDuplicate()).isTrue();
        assertThatThrownBy(() -> store.purgeExpired(0)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * A claim never expires under its own open transaction: a redelivery that arrives after the key's retention
     * has run out, while the first delivery's transaction is still open, waits for it and is a duplicate once it
     * commits, not a second run. (A store that counts retention from the claim must move the expiry of a slow
     * transaction's keys before it commits, or count it from the commit.)
     */
    @Test
    default void aRedeliveryWaitingOnAClaimerSlowerThanTheRetentionIsADuplicate() throws Exception {
        DedupStore store = store();
        Duration retention = Duration.ofSeconds(1);
        CountDownLatch expired = new CountDownLatch(1);
        CountDownLatch redelivering = new CountDownLatch(1);
        IdempotentHandler<Msg, String, ?> slow = builder(store, "billing").retentionForTestsOnly(retention)
                .handler((m, ctx) -> {
                    recordEffect(ctx);
                    if (expired.getCount() > 0) {
                        letStoreClockPass(retention.plusMillis(500));
                        expired.countDown();
                        redelivering.await(30, TimeUnit.SECONDS);
                        Thread.sleep(300); // the redelivery now waits on the key this transaction holds
                    }
                    return "slow";
                }).build();
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try {
            Future<Outcome<String>> first = executor.submit(() -> slow.process(Msg.of("slow")));
            assertThat(expired.await(30, TimeUnit.SECONDS)).isTrue();
            Future<Outcome<String>> redelivery = executor.submit(() -> {
                redelivering.countDown();
                return slow.process(Msg.of("slow"));
            });

            assertThat(await(first).isProcessed()).isTrue();
            assertThat(await(redelivery).isDuplicate()).as("the redelivery that waited on the slow claim").isTrue();
            assertThat(effects("billing", "slow")).isEqualTo(1);
            assertThat(slow.process(Msg.of("slow")).isDuplicate()).as("and the claim is live after its commit").isTrue();
        } finally {
            executor.shutdownNow();
        }
    }
}
