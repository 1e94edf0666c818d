package dev.oncely;

/**
 * One leased run of a message's handler: the key it holds, the attempt, its recorded steps and the keys to pass
 * downstream. Only valid during the {@link LeasedMessageHandler#handle} call it was given to; not thread-safe.
 */
public interface LeasedRun {

    /** A step's call that returns a value. */
    @FunctionalInterface
    interface StepCall<T, E extends Exception> {
        T call() throws E;
    }

    /** A step's call that returns nothing. */
    @FunctionalInterface
    interface StepAction<E extends Exception> {
        void run() throws E;
    }

    /** The consumer name. */
    String consumer();

    /** The idempotency key this run holds. */
    String key();

    /**
     * 1 for the first run of this key, one more for each run that took the key over after an earlier one failed or
     * lost its lease. It only grows: pass it as a fencing token to a service that refuses writes with a lower one.
     */
    int attempt();

    /**
     * A stable key for the external call of step {@code step}: the same for every attempt and every process, and
     * different for every consumer, key and step (64 hex characters, SHA-256 of the three). Send it as the
     * {@code Idempotency-Key} of the API you call: with a receiver that honours it, the call's effect happens once
     * however often this run is retried.
     */
    String downstreamKey(String step);

    /**
     * Runs {@code call} as the recovery point {@code name}, unless an earlier attempt of this key already
     * completed it: then returns the value it recorded, decoded by {@code codec}, without calling. A completed
     * call is recorded (encoded by {@code codec}) before this returns, and the lease is renewed with it.
     *
     * @throws LeaseLostException if the lease was taken over before the step could be recorded: the call happened
     *                            but is not recorded; stop working, another run now holds the key
     */
    <T, E extends Exception> T step(String name, ResultCodec<T> codec, StepCall<T, E> call) throws E;

    /** {@link #step(String, ResultCodec, StepCall)} for a call without a value. */
    <E extends Exception> void step(String name, StepAction<E> action) throws E;

    /** Whether step {@code name} was completed, by this attempt or an earlier one. */
    boolean stepDone(String name);

    /**
     * Moves the lease's expiry a whole lease from now (a keep-alive). {@link LeasedHandler.Builder#keepAlive} does
     * it for you on a timer.
     *
     * @throws LeaseLostException if another run took the key over meanwhile
     */
    void renewLease();
}
