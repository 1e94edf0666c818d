package dev.oncely.examples.lease;

import java.util.concurrent.CountDownLatch;

/**
 * A simulated process death of one consumer thread: {@link #now()} never returns to the code that called it (no
 * finally block, no release, no completion, no ack), as after a SIGKILL; the consumer group starts a replacement.
 * When the run is over, {@link #bury()} ends the dead threads.
 */
final class Crash {

    /** Thrown out of {@link #now()} when the run is over; nothing the dead thread does after it counts. */
    static final class Buried extends Error {
        private static final long serialVersionUID = 1L;

        Buried() {
            super("buried", null, false, false);
        }
    }

    private final CountDownLatch over = new CountDownLatch(1);
    private final Runnable onDeath;

    Crash(Runnable onDeath) {
        this.onDeath = onDeath;
    }

    void now() {
        onDeath.run();
        while (true) {
            try {
                over.await();
                throw new Buried();
            } catch (InterruptedException e) {
                // A dead thread ignores interrupts: only bury() ends it.
            }
        }
    }

    void bury() {
        over.countDown();
    }
}
