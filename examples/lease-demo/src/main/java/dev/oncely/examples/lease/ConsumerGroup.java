package dev.oncely.examples.lease;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Consumer threads draining a {@link RedeliveringChannel}, as a consumer group would. A consumer that dies
 * ({@link Crash#now()}) is replaced by a new one, as a process supervisor restarts a killed process.
 */
final class ConsumerGroup {

    /** What a consumer does with one delivery: acknowledge it or not. */
    interface DeliveryHandler {
        /** @return true to acknowledge; false (or throwing) redelivers it after {@link #retryDelayMillis} */
        boolean onDelivery(RedeliveringChannel.Delivery delivery, Crash crash) throws Exception;

        /** How long to wait before a delivery that was not acknowledged comes again. */
        default long retryDelayMillis(Exception failure) {
            return 50;
        }
    }

    /** A delivery that failed this many times stops the run: something is wrong beyond the injected faults. */
    static final int MAX_DELIVERIES = 50;

    private ConsumerGroup() {
    }

    /** How one run went, as the consumers saw it. */
    record Stats(double seconds, int crashes) {
    }

    static Stats drain(String name, RedeliveringChannel channel, int consumers, DeliveryHandler handler,
            PrintStream progress) throws Exception {
        long start = System.nanoTime();
        List<Thread> live = new CopyOnWriteArrayList<>();
        AtomicInteger crashes = new AtomicInteger();
        AtomicReference<Exception> failure = new AtomicReference<>();
        Crash[] crash = new Crash[1];
        Runnable[] startOne = new Runnable[1];
        crash[0] = new Crash(() -> {
            crashes.incrementAndGet();
            live.remove(Thread.currentThread());
            startOne[0].run(); // the supervisor restarts the dead consumer
        });
        AtomicInteger numbers = new AtomicInteger();
        startOne[0] = () -> {
            Thread t = new Thread(() -> consume(channel, handler, crash[0], failure),
                    "lease-demo-" + name + "-" + numbers.incrementAndGet());
            t.setDaemon(true);
            live.add(t);
            t.start();
        };
        progress.printf(Locale.ROOT, "  %s: charging %,d events with %d consumers...%n", name, channel.events(),
                consumers);
        for (int i = 0; i < consumers; i++) {
            startOne[0].run();
        }
        long nextProgress = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (!live.isEmpty()) {
            for (Thread t : live) {
                t.join(100);
                if (!t.isAlive()) {
                    live.remove(t);
                }
            }
            if (System.nanoTime() - nextProgress > 0) {
                progress.println(progressLine(name, channel.ackedEvents(), channel.events(),
                        (System.nanoTime() - start) / 1e9));
                nextProgress += TimeUnit.SECONDS.toNanos(1);
            }
        }
        crash[0].bury();
        if (failure.get() != null) {
            throw failure.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        progress.printf(Locale.ROOT, "  %s: done, %,d deliveries (%,d redeliveries) in %.1f s, %d consumers died%n",
                name, channel.delivered(), channel.redelivered(), seconds, crashes.get());
        return new Stats(seconds, crashes.get());
    }

    /** One progress line: "  Oncely: [#####.....]  52% (520 of 1,000 events charged, 480/s)". */
    static String progressLine(String name, long done, long total, double seconds) {
        int percent = total == 0 ? 100 : (int) Math.min(100, done * 100 / total);
        String bar = "#".repeat(percent / 5) + ".".repeat(20 - percent / 5);
        return String.format(Locale.ROOT, "  %s: [%s] %3d%% (%,d of %,d events done, %,d/s)", name, bar, percent, done,
                total, Math.round(done / Math.max(seconds, 1e-9)));
    }

    private static void consume(RedeliveringChannel channel, DeliveryHandler handler, Crash crash,
            AtomicReference<Exception> failure) {
        try {
            while (!channel.drained() && failure.get() == null) {
                RedeliveringChannel.Delivery d = channel.poll(50);
                if (d == null) {
                    continue;
                }
                boolean ack;
                long delay = 50;
                try {
                    ack = handler.onDelivery(d, crash);
                } catch (Exception e) {
                    if (d.attempt() >= MAX_DELIVERIES) {
                        throw new IllegalStateException("event " + d.event().eventId() + " failed "
                                + d.attempt() + " deliveries in a row; the last: " + e, e);
                    }
                    ack = false;
                    delay = handler.retryDelayMillis(e);
                }
                if (ack) {
                    channel.ack(d);
                } else {
                    channel.nack(d, delay);
                }
            }
        } catch (Crash.Buried dead) {
            // A consumer that died earlier; the run is over.
        } catch (Exception e) {
            failure.compareAndSet(null, e);
        }
    }
}
