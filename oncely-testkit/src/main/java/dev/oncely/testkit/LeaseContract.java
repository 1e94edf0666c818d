package dev.oncely.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.oncely.DedupStore;
import dev.oncely.KeyFailedException;
import dev.oncely.KeyInProgressException;
import dev.oncely.LeasedHandler;
import dev.oncely.Outcome;
import dev.oncely.PayloadConflictException;
import dev.oncely.ResultCodec;
import dev.oncely.spi.LeaseAnswer;
import dev.oncely.spi.LeaseRequest;
import dev.oncely.spi.LeaseStore;
import dev.oncely.spi.LeaseToken;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Lease mode ({@link LeasedHandler}, {@link LeaseStore}): a fresh key is leased at attempt 1, a live lease answers
 * in progress, an expired one is taken over with attempt + 1 and its stale holder is fenced, a keep-alive holds
 * it, recorded steps survive a takeover and are replayed, a run that keeps failing is parked and an operator can
 * release it, and a storm of concurrent deliveries leases a key once. Time passes by
 * {@link StoreFixture#letStoreClockPass}; leases are a second long.
 */
public interface LeaseContract extends StoreFixture {

    Duration LEASE = Duration.ofSeconds(1);
    Duration PAST_LEASE = Duration.ofMillis(1300);

    private LeaseStore leases(DedupStore store) {
        return store.leases().orElseThrow(() -> new AssertionError(store.describe() + " offers no leases"));
    }

    private static LeaseRequest request(String key, int maxAttempts) {
        return new LeaseRequest("billing", key, Optional.empty(), Optional.empty(), LEASE, maxAttempts, true);
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    default void aFreshKeyIsLeasedAtAttemptOneAndOnceCompletedIsADuplicateWithItsResult() throws Exception {
        LeaseStore leases = leases(store());

        LeaseAnswer first = leases.acquire(request("evt-1", 5));

        assertThat(first).isInstanceOf(LeaseAnswer.Acquired.class);
        LeaseToken token = ((LeaseAnswer.Acquired) first).lease();
        assertThat(token.attempt()).isEqualTo(1);
        assertThat(((LeaseAnswer.Acquired) first).steps()).as("no steps on a first attempt").isEmpty();
        assertThat(leases.complete(token, Optional.of(utf8("receipt-1")))).isTrue();

        LeaseAnswer again = leases.acquire(request("evt-1", 5));
        assertThat(again).isInstanceOf(LeaseAnswer.Completed.class);
        assertThat(((LeaseAnswer.Completed) again).result()).hasValueSatisfying(r ->
                assertThat(new String(r, StandardCharsets.UTF_8)).isEqualTo("receipt-1"));
        assertThat(again.firstClaimedAt()).isEqualTo(first.firstClaimedAt());
        assertThat(leases.complete(token, Optional.empty())).as("a completed record takes no second completion").isFalse();
        assertThat(claimRows(DEFAULT_TABLE)).isEqualTo(1);
    }

    @Test
    default void aKeyUnderALiveLeaseIsAnsweredInProgressAtOnceAndNothingIsWritten() throws Exception {
        LeaseStore leases = leases(store());
        LeaseToken holder = ((LeaseAnswer.Acquired) leases.acquire(request("evt-1", 5))).lease();

        LeaseAnswer second = leases.acquire(request("evt-1", 5));

        assertThat(second).isInstanceOf(LeaseAnswer.InProgress.class);
        LeaseAnswer.InProgress busy = (LeaseAnswer.InProgress) second;
        assertThat(busy.attempt()).isEqualTo(1);
        assertThat(busy.leaseLeft()).isPositive().isLessThanOrEqualTo(LEASE);
        assertThat(leases.complete(holder, Optional.empty())).as("the holder is untouched").isTrue();
    }

    @Test
    default void anExpiredLeaseIsTakenOverWithTheNextAttemptAndTheStaleHolderIsFencedFromEveryWrite() throws Exception {
        LeaseStore leases = leases(store());
        LeaseToken stale = ((LeaseAnswer.Acquired) leases.acquire(request("evt-1", 5))).lease();

        letStoreClockPass(PAST_LEASE);
        LeaseAnswer takeover = leases.acquire(request("evt-1", 5));

        assertThat(takeover).isInstanceOf(LeaseAnswer.Acquired.class);
        LeaseToken fresh = ((LeaseAnswer.Acquired) takeover).lease();
        assertThat(fresh.attempt()).isEqualTo(2);
        assertThat(fresh.token()).isNotEqualTo(stale.token());
        assertThat(leases.renew(stale, LEASE)).as("stale renew").isFalse();
        assertThat(leases.recordSteps(stale, utf8("x"), LEASE)).as("stale step").isFalse();
        assertThat(leases.release(stale, "java.lang.IllegalStateException", true)).as("stale release").isFalse();
        assertThat(leases.complete(stale, Optional.of(utf8("stale")))).as("stale completion").isFalse();

        assertThat(leases.complete(fresh, Optional.of(utf8("fresh")))).isTrue();
        LeaseAnswer done = leases.acquire(request("evt-1", 5));
        assertThat(((LeaseAnswer.Completed) done).result()).hasValueSatisfying(r ->
                assertThat(new String(r, StandardCharsets.UTF_8)).as("the stale holder never overwrote").isEqualTo("fresh"));
    }

    @Test
    default void aHolderWhoseLeaseRanOutButWasNotTakenOverStillCompletes() throws Exception {
        LeaseStore leases = leases(store());
        LeaseToken slow = ((LeaseAnswer.Acquired) leases.acquire(request("evt-1", 5))).lease();

        letStoreClockPass(PAST_LEASE);

        assertThat(leases.complete(slow, Optional.empty())).as("the token still matches").isTrue();
        assertThat(leases.acquire(request("evt-1", 5))).isInstanceOf(LeaseAnswer.Completed.class);
    }

    @Test
    default void aKeepAliveHoldsTheLeaseBeyondItsFirstExpiry() throws Exception {
        LeaseStore leases = leases(store());
        LeaseToken holder = ((LeaseAnswer.Acquired) leases.acquire(request("evt-1", 5))).lease();

        letStoreClockPass(Duration.ofMillis(700));
        assertThat(leases.renew(holder, LEASE)).isTrue();
        letStoreClockPass(Duration.ofMillis(700));

        assertThat(leases.acquire(request("evt-1", 5))).as("1.4 s after the lease began, renewed at 0.7 s")
                .isInstanceOf(LeaseAnswer.InProgress.class);
        assertThat(leases.complete(holder, Optional.empty())).isTrue();
    }

    @Test
    default void recordedStepsSurviveATakeoverAndAnExpiredRecordStartsAfresh() throws Exception {
        LeaseStore leases = leases(store());
        LeaseRequest shortLived = new LeaseRequest("billing", "evt-1", Optional.empty(),
                Optional.of(Duration.ofSeconds(3)), LEASE, 5, true);
        LeaseToken first = ((LeaseAnswer.Acquired) leases.acquire(shortLived)).lease();
        assertThat(leases.recordSteps(first, utf8("charged"), LEASE)).isTrue();

        letStoreClockPass(PAST_LEASE);
        LeaseAnswer.Acquired second = (LeaseAnswer.Acquired) leases.acquire(shortLived);

        assertThat(second.lease().attempt()).isEqualTo(2);
        assertThat(second.steps()).hasValueSatisfying(s ->
                assertThat(new String(s, StandardCharsets.UTF_8)).isEqualTo("charged"));
        assertThat(leases.complete(second.lease(), Optional.of(utf8("done")))).isTrue();

        // The record's retention (3 s) runs from its first lease, 1.3 s ago; neither a takeover nor the completion
        // moves it, so 2 s more put it 0.3 s past.
        letStoreClockPass(Duration.ofMillis(2000));
        LeaseAnswer answer = leases.acquire(shortLived);
        assertThat(answer).as("3.3 s after the first lease, past the 3 s retention")
                .isInstanceOf(LeaseAnswer.Acquired.class);
        LeaseAnswer.Acquired afresh = (LeaseAnswer.Acquired) answer;
        assertThat(afresh.lease().attempt()).as("retention over: a new record").isEqualTo(1);
        assertThat(afresh.steps()).as("the old record's steps are gone").isEmpty();
        assertThat(afresh.firstClaimedAt()).isAfter(second.firstClaimedAt());
    }

    @Test
    default void leaseHoldersThatCrashCountAsAttemptsAndTheLastOneParksTheKey() throws Exception {
        LeaseStore leases = leases(store());
        leases.acquire(request("evt-1", 2));
        letStoreClockPass(PAST_LEASE);
        assertThat(((LeaseAnswer.Acquired) leases.acquire(request("evt-1", 2))).lease().attempt()).isEqualTo(2);
        letStoreClockPass(PAST_LEASE);

        LeaseAnswer parked = leases.acquire(request("evt-1", 2));

        assertThat(parked).isInstanceOf(LeaseAnswer.Failed.class);
        assertThat(((LeaseAnswer.Failed) parked).attempts()).isEqualTo(2);
        assertThat(((LeaseAnswer.Failed) parked).lastError()).isEqualTo("lease expired");
        assertThat(leases.acquire(request("evt-1", 2))).as("stays parked").isInstanceOf(LeaseAnswer.Failed.class);
    }

    @Test
    default void stepsAreReplayedToARetrySoACompletedChargeIsNotChargedAgain() throws Exception {
        DedupStore store = store();
        AtomicInteger charges = new AtomicInteger();
        AtomicInteger receipts = new AtomicInteger();
        AtomicInteger receiptFailures = new AtomicInteger(1);
        LeasedHandler<Msg, String, Boom> billing = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(LEASE).resultCodec(ResultCodec.utf8())
                .handler((m, run) -> {
                    String chargeId = run.step("charge", ResultCodec.utf8(),
                            () -> "ch-" + charges.incrementAndGet() + "-" + run.downstreamKey("charge").length());
                    run.step("receipt", () -> {
                        if (receiptFailures.getAndDecrement() > 0) {
                            throw new Boom("mail service down");
                        }
                        receipts.incrementAndGet();
                    });
                    return chargeId + "/attempt-" + run.attempt();
                }).build();

        Throwable first = catchThrowable(() -> billing.process(Msg.of("evt-1")));
        Outcome<String> retry = billing.process(Msg.of("evt-1"));
        Outcome<String> duplicate = billing.process(Msg.of("evt-1"));

        assertThat(first).isInstanceOf(Boom.class);
        assertThat(charges.get()).as("charged once across both attempts").isEqualTo(1);
        assertThat(receipts.get()).isEqualTo(1);
        assertThat(retry.isProcessed()).isTrue();
        assertThat(retry.result()).contains("ch-1-64/attempt-2");
        assertThat(duplicate.isDuplicate()).isTrue();
        assertThat(duplicate.result()).contains("ch-1-64/attempt-2");
    }

    @Test
    default void aRunThatKeepsFailingIsParkedAfterMaxAttemptsAndAnOperatorCanReleaseIt() throws Exception {
        DedupStore store = store();
        AtomicInteger runs = new AtomicInteger();
        LeasedHandler<Msg, String, Boom> failing = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(LEASE).maxAttempts(3)
                .handler((m, run) -> {
                    runs.incrementAndGet();
                    throw new Boom("card declined by a bug");
                }).build();
        for (int i = 0; i < 3; i++) {
            assertThat(catchThrowable(() -> failing.process(Msg.of("evt-1")))).isInstanceOf(Boom.class);
        }

        Throwable parked = catchThrowable(() -> failing.process(Msg.of("evt-1")));

        assertThat(runs.get()).as("three attempts, no fourth").isEqualTo(3);
        assertThat(parked).isInstanceOf(KeyFailedException.class);
        assertThat(((KeyFailedException) parked).attempts()).isEqualTo(3);
        assertThat(((KeyFailedException) parked).lastError()).isEqualTo(Boom.class.getName());

        assertThat(leases(store).retryFailed("billing", "evt-1")).isTrue();
        assertThat(leases(store).retryFailed("billing", "evt-1")).as("no longer failed").isFalse();
        Outcome<String> fixed = LeasedHandler.<Msg, String>builder(store).consumer("billing").key(Msg::key)
                .lease(LEASE).handler((m, run) -> "ok-" + run.attempt()).build().process(Msg.of("evt-1"));
        assertThat(fixed.isProcessed()).isTrue();
        assertThat(fixed.result()).contains("ok-1");
    }

    @Test
    default void aConcurrentStormOfDeliveriesRunsTheHandlerOnceAndAnswersTheRestInProgressOrDuplicate() throws Exception {
        DedupStore store = store();
        int deliveries = 16;
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        LeasedHandler<Msg, String, InterruptedException> handler = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(Duration.ofSeconds(30))
                .handler((m, run) -> {
                    runs.incrementAndGet();
                    release.await(20, TimeUnit.SECONDS);
                    return "done";
                }).build();
        ExecutorService pool = Executors.newFixedThreadPool(deliveries);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<String>> answers = new ArrayList<>();
        try {
            for (int i = 0; i < deliveries; i++) {
                answers.add(pool.submit(() -> {
                    start.await();
                    try {
                        return handler.process(Msg.of("evt-1")).status().name();
                    } catch (KeyInProgressException e) {
                        assertThat(e.retryAfter()).isPositive();
                        return "IN_PROGRESS";
                    }
                }));
            }
            start.countDown();
            int inProgress = 0;
            for (int i = 0; i < deliveries; i++) {
                // All but the holder answer at once, without waiting for it.
                try {
                    String answer = answers.get(i).get(200, TimeUnit.MILLISECONDS);
                    assertThat(answer).isEqualTo("IN_PROGRESS");
                    inProgress++;
                } catch (java.util.concurrent.TimeoutException holder) {
                    // the one holding the key, checked below
                }
            }
            if (inProgress < deliveries - 1) {
                // slow machine: give the others time, they must still not be the holder
                Thread.sleep(2000);
            }
            release.countDown();
            long processed = 0;
            long busy = 0;
            for (Future<String> f : answers) {
                String a = f.get(30, TimeUnit.SECONDS);
                processed += a.equals("PROCESSED") ? 1 : 0;
                busy += a.equals("IN_PROGRESS") ? 1 : 0;
            }
            assertThat(processed).isEqualTo(1);
            assertThat(busy).isEqualTo(deliveries - 1);
            assertThat(runs.get()).isEqualTo(1);
        } finally {
            release.countDown();
            pool.shutdownNow();
        }
        assertThat(handler.process(Msg.of("evt-1")).isDuplicate()).isTrue();
    }

    @Test
    default void aRedeliveryWithAnotherPayloadIsAConflictWhetherTheKeyIsDoneOrInProgress() throws Exception {
        DedupStore store = store();
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        LeasedHandler<Msg, String, InterruptedException> handler = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(Duration.ofSeconds(30))
                .fingerprint(m -> m.payload().getBytes(StandardCharsets.UTF_8))
                .handler((m, run) -> {
                    running.countDown();
                    finish.await(20, TimeUnit.SECONDS);
                    return "done";
                }).build();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Outcome<String>> first = pool.submit(() -> handler.process(new Msg("evt-1", "amount=10")));
            assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

            assertThat(catchThrowable(() -> handler.process(new Msg("evt-1", "amount=99"))))
                    .as("while in progress").isInstanceOf(PayloadConflictException.class);
            finish.countDown();
            assertThat(first.get(20, TimeUnit.SECONDS).isProcessed()).isTrue();
        } finally {
            finish.countDown();
            pool.shutdownNow();
        }
        assertThat(catchThrowable(() -> handler.process(new Msg("evt-1", "amount=99"))))
                .as("once completed").isInstanceOf(PayloadConflictException.class);
        assertThat(handler.process(new Msg("evt-1", "amount=10")).isDuplicate()).isTrue();
    }

    @Test
    default void waitingForAnInProgressKeyReturnsTheFirstRunsResultWhenItFinishesInTime() throws Exception {
        DedupStore store = store();
        CountDownLatch running = new CountDownLatch(1);
        LeasedHandler<Msg, String, InterruptedException> slow = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(Duration.ofSeconds(30)).resultCodec(ResultCodec.utf8())
                .handler((m, run) -> {
                    running.countDown();
                    Thread.sleep(500);
                    return "receipt";
                }).build();
        LeasedHandler<Msg, String, RuntimeException> patient = LeasedHandler.<Msg, String>builder(store)
                .consumer("billing").key(Msg::key).lease(Duration.ofSeconds(30)).resultCodec(ResultCodec.utf8())
                .waitForInProgress(Duration.ofSeconds(10))
                .handler((m, run) -> "never runs").build();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Outcome<String>> first = pool.submit(() -> slow.process(Msg.of("evt-1")));
            assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

            Outcome<String> waited = patient.process(Msg.of("evt-1"));

            assertThat(waited.isDuplicate()).isTrue();
            assertThat(waited.result()).contains("receipt");
            assertThat(first.get(10, TimeUnit.SECONDS).isProcessed()).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }
}
