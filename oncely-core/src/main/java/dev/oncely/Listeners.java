package dev.oncely;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link OncelyListener}s of a handler or purger, each called in turn and each guarded: a listener that throws
 * (a runtime exception, or a linkage error such as a class missing from its classpath) is logged (WARN at its first failure and then at most once per {@link #WARN_EVERY_NANOS}, DEBUG otherwise) and
 * the call goes on. Built only when there is at least one listener, so that a handler without one holds null and
 * pays nothing.
 */
final class Listeners {

    private static final Logger log = LoggerFactory.getLogger(OncelyListener.class);
    static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(5);

    private final Guarded[] listeners;

    private Listeners(List<OncelyListener> listeners) {
        this.listeners = new Guarded[listeners.size()];
        for (int i = 0; i < this.listeners.length; i++) {
            this.listeners[i] = new Guarded(listeners.get(i));
        }
    }

    /** The listeners, or null if there are none. */
    static Listeners of(List<OncelyListener> listeners) {
        return listeners.isEmpty() ? null : new Listeners(List.copyOf(listeners));
    }

    /** Tells the listeners a call began; returns what records it, to hand its event to them at its end. */
    ProcessingRecorder started(String consumer, int messages, boolean batch) {
        for (Guarded g : listeners) {
            try {
                g.listener.processingStarted(consumer, messages);
            } catch (RuntimeException | LinkageError e) {
                g.failed("processingStarted", e);
            }
        }
        return new ProcessingRecorder(this, consumer, messages, batch);
    }

    void ended(ProcessingEvent event) {
        for (Guarded g : listeners) {
            try {
                g.listener.processingEnded(event);
            } catch (RuntimeException | LinkageError e) {
                g.failed("processingEnded", e);
            }
        }
    }

    void purged(PurgeEvent event) {
        for (Guarded g : listeners) {
            try {
                g.listener.purgeEnded(event);
            } catch (RuntimeException | LinkageError e) {
                g.failed("purgeEnded", e);
            }
        }
    }

    int size() {
        return listeners.length;
    }

    private static final class Guarded {
        final OncelyListener listener;
        final AtomicLong failures = new AtomicLong();
        /** System.nanoTime() of the last WARN; meaningful once failures > 0. */
        final AtomicLong lastWarn = new AtomicLong();

        Guarded(OncelyListener listener) {
            this.listener = listener;
        }

        void failed(String method, Throwable e) {
            long n = failures.incrementAndGet();
            long now = System.nanoTime();
            long last = lastWarn.get();
            boolean warn = n == 1 ? lastWarn.compareAndSet(last, now)
                    : now - last >= WARN_EVERY_NANOS && lastWarn.compareAndSet(last, now);
            if (warn) {
                log.warn("Oncely listener {} threw from {} ({} failure(s) so far); processing goes on. Fix the"
                        + " listener: it must not throw. Further failures are logged at DEBUG, with a WARN at most"
                        + " every 5 minutes.", listener, method, n, e);
            } else if (log.isDebugEnabled()) {
                log.debug("Oncely listener {} threw from {} again ({} failures so far)", listener, method, n, e);
            }
        }
    }
}
