package dev.oncely.examples.billing;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** Drains a channel with several concurrent consumers, as a consumer group would. */
final class ConsumerRun {

    /** What a consumer does with one delivery; throwing means "not acknowledged". */
    interface ChargeConsumer {
        void onMessage(ChargeEvent event) throws Exception;
    }

    /** A delivery that failed this many times stops the run: something is wrong beyond a transient error. */
    static final int MAX_ATTEMPTS = 10;

    private ConsumerRun() {
    }

    /** Runs until the channel is drained; returns the elapsed seconds. */
    static double drain(String name, AtLeastOnceChannel channel, int consumers, ChargeConsumer consumer,
            PrintStream progress) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(consumers);
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "billing-demo-progress");
            t.setDaemon(true);
            return t;
        });
        long start = System.nanoTime();
        progress.printf(Locale.ROOT, "  %s: consuming %,d deliveries with %d consumers...%n", name,
                channel.scheduledDeliveries(), consumers);
        // Every second, so that even the default run (a few seconds per consumer) shows how it is going.
        ticker.scheduleAtFixedRate(() -> progress.println(progressLine(name, channel.delivered(),
                channel.scheduledDeliveries(), (System.nanoTime() - start) / 1e9)), 1, 1, TimeUnit.SECONDS);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < consumers; i++) {
                running.add(pool.submit(() -> consume(channel, consumer)));
            }
            for (Future<?> f : running) {
                f.get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            ticker.shutdownNow();
            progress.printf(Locale.ROOT, "  %s: done, %,d deliveries in %.1f s%n", name, channel.delivered(), seconds);
            return seconds;
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } finally {
            ticker.shutdownNow();
            pool.shutdownNow();
        }
    }

    /** One progress line: "  Oncely: [#####.....]  52% (10,423 of 20,047 deliveries, 1,951/s)". */
    static String progressLine(String name, long delivered, long total, double seconds) {
        int percent = total == 0 ? 100 : (int) Math.min(100, delivered * 100 / total);
        String bar = "#".repeat(percent / 5) + ".".repeat(20 - percent / 5);
        return String.format(Locale.ROOT, "  %s: [%s] %3d%% (%,d of %,d deliveries, %,d/s)", name, bar, percent,
                delivered, total, Math.round(delivered / Math.max(seconds, 1e-9)));
    }

    private static Void consume(AtLeastOnceChannel channel, ChargeConsumer consumer) throws Exception {
        for (AtLeastOnceChannel.Delivery d = channel.poll(); d != null; d = channel.poll()) {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedException("stopped");
            }
            try {
                consumer.onMessage(d.event());
            } catch (Exception e) {
                if (d.attempt() >= MAX_ATTEMPTS) {
                    throw e;
                }
                channel.nack(d); // no ack: the channel delivers it again
            }
        }
        return null;
    }
}
