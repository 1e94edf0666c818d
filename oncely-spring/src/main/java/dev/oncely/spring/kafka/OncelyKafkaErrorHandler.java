package dev.oncely.spring.kafka;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.PayloadConflictException;
import dev.oncely.TransientStoreException;
import java.time.Duration;
import org.springframework.kafka.listener.CommonContainerStoppingErrorHandler;
import org.springframework.kafka.listener.CommonDelegatingErrorHandler;
import org.springframework.kafka.listener.ConsumerRecordRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.util.backoff.BackOff;
import org.springframework.util.backoff.FixedBackOff;

/**
 * The error handler for {@code @KafkaListener} methods with {@code @Idempotent} or {@code @IdempotentBatch}: settles
 * each of Oncely's exceptions the way its type says (the Spring Boot starter makes it the listeners' error handler).
 *
 * <table>
 *   <caption>What happens to the record (record listener) or the batch (batch listener)</caption>
 *   <tr><th>exception</th><th>settlement</th></tr>
 *   <tr><td>{@link InvalidMessageException}, {@link PayloadConflictException}</td><td>not retried: handed to the
 *   recoverer at once (a {@code DeadLetterPublishingRecoverer} publishes it to the dead-letter topic; the default
 *   logs it), then skipped</td></tr>
 *   <tr><td>{@link TransientStoreException}, {@link CommitOutcomeUnknownException}</td><td>retried every
 *   {@code storeRetryDelay}, without a limit: never recovered (skipped) while the database is away</td></tr>
 *   <tr><td>{@link MisconfigurationException}</td><td>stops the container (every record would fail the same
 *   way); the record is not skipped: fix the configuration and start the container again</td></tr>
 *   <tr><td>any other exception (yours)</td><td>the {@link DefaultErrorHandler}'s defaults: retried (10 attempts
 *   by default, or the {@code BackOff} you pass), then recovered</td></tr>
 * </table>
 *
 * <p>Every failure rolled the transaction back first (claims and writes), so a retry or a redelivery processes the
 * record again. To keep your own {@link DefaultErrorHandler}, call {@link #classify(DefaultErrorHandler, Duration)}
 * on it (everything above except stopping on misconfiguration, which needs this delegating handler).
 */
public class OncelyKafkaErrorHandler extends CommonDelegatingErrorHandler {

    /** The pause between attempts after a store failure, unless you give another: {@value} ms. */
    public static final long DEFAULT_STORE_RETRY_DELAY_MILLIS = 1_000;

    private final DefaultErrorHandler defaultErrorHandler;

    /** With the default recoverer (logs and skips), 10 attempts for your exceptions and 1 s store retries. */
    public OncelyKafkaErrorHandler() {
        this(new DefaultErrorHandler(), Duration.ofMillis(DEFAULT_STORE_RETRY_DELAY_MILLIS));
    }

    /** With {@code recoverer} (e.g. a {@code DeadLetterPublishingRecoverer}) for records that are not retried. */
    public OncelyKafkaErrorHandler(ConsumerRecordRecoverer recoverer) {
        this(new DefaultErrorHandler(checkRecoverer(recoverer)), Duration.ofMillis(DEFAULT_STORE_RETRY_DELAY_MILLIS));
    }

    /**
     * @param defaultErrorHandler handles every exception but a {@link MisconfigurationException}; it is
     *                            {@link #classify classified} here
     * @param storeRetryDelay     the pause between attempts after a store failure (at least 1 ms)
     */
    public OncelyKafkaErrorHandler(DefaultErrorHandler defaultErrorHandler, Duration storeRetryDelay) {
        super(classify(defaultErrorHandler, storeRetryDelay));
        this.defaultErrorHandler = defaultErrorHandler;
        CommonContainerStoppingErrorHandler stopping = new CommonContainerStoppingErrorHandler();
        addDelegate(MisconfigurationException.class, stopping);
    }

    /** The handler of every exception but a {@link MisconfigurationException}. */
    public DefaultErrorHandler defaultErrorHandler() {
        return defaultErrorHandler;
    }

    /**
     * Registers Oncely's exceptions on {@code handler}: {@link InvalidMessageException},
     * {@link PayloadConflictException} and {@link MisconfigurationException} are not retryable (recovered at once);
     * {@link TransientStoreException} and {@link CommitOutcomeUnknownException} are retried every
     * {@code storeRetryDelay} without a limit. Other exceptions keep the handler's {@code BackOff}; a back-off
     * function you set on the handler is replaced (call this first and wrap it if you need both).
     *
     * @return {@code handler}
     */
    public static DefaultErrorHandler classify(DefaultErrorHandler handler, Duration storeRetryDelay) {
        if (handler == null) {
            throw new IllegalArgumentException("handler is null: pass the DefaultErrorHandler of your listener"
                    + " container factory.");
        }
        if (storeRetryDelay == null || storeRetryDelay.isNegative() || storeRetryDelay.isZero()) {
            throw new IllegalArgumentException("storeRetryDelay must be positive, got " + storeRetryDelay
                    + ": it is the pause between attempts while the database is away (e.g. 1 s).");
        }
        handler.addNotRetryableExceptions(InvalidMessageException.class, PayloadConflictException.class,
                MisconfigurationException.class);
        BackOff untilTheStoreAnswers = new FixedBackOff(storeRetryDelay.toMillis(), FixedBackOff.UNLIMITED_ATTEMPTS);
        handler.setBackOffFunction((record, exception) -> isStoreFailure(exception) ? untilTheStoreAnswers : null);
        return handler;
    }

    /** Whether {@code exception} or one of its causes is a store failure worth retrying. */
    static boolean isStoreFailure(Throwable exception) {
        for (Throwable t = exception; t != null; t = t.getCause()) {
            if (t instanceof TransientStoreException || t instanceof CommitOutcomeUnknownException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private static ConsumerRecordRecoverer checkRecoverer(ConsumerRecordRecoverer recoverer) {
        if (recoverer == null) {
            throw new IllegalArgumentException("recoverer is null: pass a ConsumerRecordRecoverer such as a"
                    + " DeadLetterPublishingRecoverer, or use the constructor without one (logs and skips).");
        }
        return recoverer;
    }
}
