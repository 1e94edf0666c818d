package dev.oncely.examples.lease;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An at-least-once queue as SQS and RabbitMQ behave: a delivery not acknowledged within the visibility timeout
 * (its consumer died or stalled) is delivered again, to any consumer; a negative acknowledgement redelivers it
 * after a delay. Redeliveries come before the first deliveries still queued. Each event's first delivery carries its planned {@link Fault}.
 */
final class RedeliveringChannel implements AutoCloseable {

    /** One delivery of an event; {@code attempt} 1 is the first. */
    record Delivery(long id, ChargeEvent event, int attempt, Fault fault) {
    }

    private record Pending(ChargeEvent event, int attempt, long dueNanos) implements Delayed {
        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(dueNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(dueNanos, ((Pending) other).dueNanos);
        }
    }

    private record InFlight(Delivery delivery, long deadlineNanos) {
    }

    private final List<ChargeEvent> events;
    private final Map<String, Fault> faults = new ConcurrentHashMap<>();
    private final long visibilityNanos;
    private final java.util.concurrent.BlockingQueue<Pending> fresh = new java.util.concurrent.LinkedBlockingQueue<>();
    private final DelayQueue<Pending> ready = new DelayQueue<>();
    private final Map<Long, InFlight> inFlight = new ConcurrentHashMap<>();
    private final Set<String> acked = ConcurrentHashMap.newKeySet();
    private final Map<String, CountDownLatch> ackSignals = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong redelivered = new AtomicLong();
    private final ScheduledExecutorService reaper;

    RedeliveringChannel(List<ChargeEvent> events, List<Fault> plan, java.time.Duration visibilityTimeout) {
        this.events = events;
        this.visibilityNanos = visibilityTimeout.toNanos();
        long now = System.nanoTime();
        for (int i = 0; i < events.size(); i++) {
            faults.put(events.get(i).eventId(), plan.get(i));
            fresh.add(new Pending(events.get(i), 1, now));
        }
        reaper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "lease-demo-visibility");
            t.setDaemon(true);
            return t;
        });
        reaper.scheduleWithFixedDelay(this::redeliverTimedOut, 20, 20, TimeUnit.MILLISECONDS);
    }

    /** The next delivery, or null if none is due within {@code millis}; redeliveries that are due come first. */
    Delivery poll(long millis) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        Pending p = ready.poll();
        while (p == null) {
            p = fresh.poll(5, TimeUnit.MILLISECONDS);
            if (p == null) {
                p = ready.poll();
                if (p == null && System.nanoTime() - until > 0) {
                    return null;
                }
            }
        }
        Fault fault = p.attempt() == 1 ? faults.get(p.event().eventId()) : Fault.NONE;
        Delivery d = new Delivery(ids.incrementAndGet(), p.event(), p.attempt(), fault);
        inFlight.put(d.id(), new InFlight(d, System.nanoTime() + visibilityNanos));
        delivered.incrementAndGet();
        return d;
    }

    void ack(Delivery d) {
        inFlight.remove(d.id());
        acked.add(d.event().eventId());
        ackSignal(d.event().eventId()).countDown();
    }

    /**
     * Waits until some delivery of the event is acknowledged, at most {@code max}: a consumer stalled on it
     * (a long GC pause) wakes up after its redelivery was handled by another.
     */
    void awaitAcked(String eventId, java.time.Duration max) {
        try {
            ackSignal(eventId).await(max.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private CountDownLatch ackSignal(String eventId) {
        return ackSignals.computeIfAbsent(eventId, id -> new CountDownLatch(1));
    }

    /** Not processed: deliver it again after {@code delayMillis}. */
    void nack(Delivery d, long delayMillis) {
        if (inFlight.remove(d.id()) != null) {
            again(d, delayMillis);
        }
    }

    private void redeliverTimedOut() {
        long now = System.nanoTime();
        for (InFlight f : inFlight.values()) {
            if (now - f.deadlineNanos() > 0 && inFlight.remove(f.delivery().id()) != null) {
                again(f.delivery(), 0);
            }
        }
    }

    private void again(Delivery d, long delayMillis) {
        redelivered.incrementAndGet();
        ready.add(new Pending(d.event(), d.attempt() + 1,
                System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis)));
    }

    /** Every event acknowledged at least once, and nothing left to deliver. */
    boolean drained() {
        return acked.size() == events.size() && fresh.isEmpty() && ready.isEmpty() && inFlight.isEmpty();
    }

    int events() {
        return events.size();
    }

    long ackedEvents() {
        return acked.size();
    }

    long delivered() {
        return delivered.get();
    }

    long redelivered() {
        return redelivered.get();
    }

    @Override
    public void close() {
        reaper.shutdownNow();
    }
}
