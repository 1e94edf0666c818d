package dev.oncely.spring.boot;

import dev.oncely.RetentionPurger;
import org.springframework.context.SmartLifecycle;

/**
 * Runs a {@link RetentionPurger} while the application context runs: started after the context is refreshed, closed
 * (a chunk in progress finishes) when it stops.
 */
public final class RetentionPurgerLifecycle implements SmartLifecycle {

    private final RetentionPurger purger;
    private volatile boolean running;

    public RetentionPurgerLifecycle(RetentionPurger purger) {
        this.purger = purger;
    }

    /** The purger, for its counters and last failure. */
    public RetentionPurger purger() {
        return purger;
    }

    @Override
    public void start() {
        purger.start();
        running = true;
    }

    @Override
    public void stop() {
        purger.close();
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }
}
