package dev.oncely.micrometer;

import dev.oncely.OncelyListener;
import dev.oncely.OutcomeKind;
import dev.oncely.ProcessingEvent;
import dev.oncely.PurgeEvent;
import io.micrometer.common.KeyValue;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Oncely's Micrometer meters, and optionally an {@link Observation} per call: an {@link OncelyListener} to set on
 * each {@link dev.oncely.IdempotentHandler} and {@link dev.oncely.RetentionPurger} (the Spring Boot starter does it
 * for you).
 *
 * <pre>{@code
 * OncelyMetrics metrics = OncelyMetrics.builder(meterRegistry).build();
 * IdempotentHandler<Event, Void, RuntimeException> handler = IdempotentHandler.<Event, Void>builder(store)
 *         .consumer("billing").key(Event::id).handler(...)
 *         .listener(metrics)
 *         .build();
 * }</pre>
 *
 * <p>Meters (names as Micrometer writes them; Prometheus shows {@code oncely_messages_total} and so on):
 * <ul>
 *   <li>{@value #MESSAGES} (counter), tags {@code consumer}, {@code outcome} ({@code processed}, {@code duplicate},
 *       {@code conflict}, {@code failed}, {@code invalid}) and {@code exception} (the failure's simple class name,
 *       {@code none} otherwise): one per message, batches counted message by message;</li>
 *   <li>{@value #CLAIM_DURATION} (timer), tag {@code consumer}: from the transaction's begin to the claim's answer,
 *       once per call (a batch's one claim statement is one sample);</li>
 *   <li>{@value #HANDLER_DURATION} (timer), tag {@code consumer}: time in your handler, once per call that ran it
 *       (for a batch, the whole batch's handler time);</li>
 *   <li>{@value #BATCH_SIZE} (distribution summary), tag {@code consumer}: messages per batch call;</li>
 *   <li>{@value #PURGE_DELETED} (counter): expired keys deleted; {@value #PURGE_DURATION} (timer), tag
 *       {@code outcome} ({@code success}, {@code failure}): purge runs; {@value #PURGE_FAILURES} (counter), tag
 *       {@code exception}: failed purge runs.</li>
 * </ul>
 * No meter is ever tagged with an idempotency key: tags are bounded sets.
 *
 * <p>With {@link Builder#observationRegistry}, each call of a handler is also an {@link Observation} named
 * {@value #OBSERVATION}, started before the claim's transaction begins and stopped after it ended, and current
 * (in scope) while the handler runs, so the spans of your handler's own instrumented calls are its children. Its
 * low-cardinality key values: {@code messaging.consumer.group.name} (the consumer), {@code messaging.operation.type}
 * and {@code messaging.operation.name} ({@code process}), {@code oncely.outcome}, and {@code messaging.system} when
 * {@link Builder#messagingSystem} is set. High cardinality (traces only): {@code error.type} (the failure's class
 * name) when the call failed, {@code messaging.batch.message_count} for batch calls, and {@code oncely.key} only if
 * {@link Builder#keyInTraces} is on. {@code messaging.destination.name} is left to the broker's own instrumentation:
 * a handler does not know the topic or queue.
 *
 * <p>Thread-safe; one instance may serve every handler and purger of an application.
 */
public final class OncelyMetrics implements OncelyListener {

    /** Counter of messages by consumer, outcome and exception: {@value}. */
    public static final String MESSAGES = "oncely.messages";
    /** Timer of the claim, by consumer: {@value}. */
    public static final String CLAIM_DURATION = "oncely.claim.duration";
    /** Timer of the handler, by consumer: {@value}. */
    public static final String HANDLER_DURATION = "oncely.handler.duration";
    /** Distribution summary of batch sizes, by consumer: {@value}. */
    public static final String BATCH_SIZE = "oncely.batch.size";
    /** Counter of expired keys deleted by purge runs: {@value}. */
    public static final String PURGE_DELETED = "oncely.purge.deleted";
    /** Timer of purge runs, by outcome (success, failure): {@value}. */
    public static final String PURGE_DURATION = "oncely.purge.duration";
    /** Counter of failed purge runs, by exception: {@value}. */
    public static final String PURGE_FAILURES = "oncely.purge.failures";
    /** The name of the observation of a handler's call: {@value}. */
    public static final String OBSERVATION = "oncely.process";

    private static final Logger log = LoggerFactory.getLogger(OncelyMetrics.class);
    private static final String NONE = "none";

    private final MeterRegistry registry;
    private final ObservationRegistry observations;
    private final String messagingSystem;
    private final boolean keyInTraces;
    private final Map<String, ConsumerMeters> byConsumer = new ConcurrentHashMap<>();
    private final Counter purgeDeleted;
    private final Timer purgeSucceeded;
    private final Timer purgeFailed;
    /** Observations of the calls in progress on this thread, innermost last (a handler may call another). */
    private final ThreadLocal<ArrayDeque<Observation.Scope>> inProgress = new ThreadLocal<>();

    private OncelyMetrics(Builder builder) {
        this.registry = builder.registry;
        this.observations = builder.observations;
        this.messagingSystem = builder.messagingSystem;
        this.keyInTraces = builder.keyInTraces;
        this.purgeDeleted = Counter.builder(PURGE_DELETED).description("Expired Oncely keys deleted by purge runs")
                .baseUnit("keys").register(registry);
        this.purgeSucceeded = purgeTimer("success");
        this.purgeFailed = purgeTimer("failure");
    }

    /** Starts a builder that registers the meters in {@code registry}. */
    public static Builder builder(MeterRegistry registry) {
        return new Builder(registry);
    }

    @Override
    public void processingStarted(String consumer, int messages) {
        if (observations == null || observations.isNoop()) {
            return;
        }
        Observation observation = Observation.createNotStarted(OBSERVATION, observations)
                .contextualName("oncely process")
                .lowCardinalityKeyValue("messaging.consumer.group.name", consumer)
                .lowCardinalityKeyValue("messaging.operation.type", "process")
                .lowCardinalityKeyValue("messaging.operation.name", "process");
        if (messagingSystem != null) {
            observation.lowCardinalityKeyValue("messaging.system", messagingSystem);
        }
        ArrayDeque<Observation.Scope> stack = inProgress.get();
        if (stack == null) {
            stack = new ArrayDeque<>(2);
            inProgress.set(stack);
        }
        stack.addLast(observation.start().openScope());
    }

    @Override
    public void processingEnded(ProcessingEvent event) {
        ConsumerMeters meters = byConsumer.computeIfAbsent(event.consumer(), ConsumerMeters::new);
        String exception = event.failure().map(f -> f.getClass().getSimpleName()).orElse(NONE);
        for (OutcomeKind kind : OutcomeKind.values()) {
            int n = event.count(kind);
            if (n > 0) {
                meters.messages(kind, exception).increment(n);
            }
        }
        event.claimDuration().ifPresent(d -> meters.claim.record(d));
        event.handlerDuration().ifPresent(d -> meters.handler.record(d));
        if (event.isBatch()) {
            meters.batchSize.record(event.messages());
        }
        endObservation(event);
    }

    @Override
    public void purgeEnded(PurgeEvent event) {
        purgeDeleted.increment(event.deleted());
        if (event.failure().isPresent()) {
            purgeFailed.record(event.duration());
            Counter.builder(PURGE_FAILURES).description("Oncely purge runs that failed")
                    .tag("exception", event.failure().get().getClass().getSimpleName())
                    .register(registry).increment();
        } else {
            purgeSucceeded.record(event.duration());
        }
    }

    private void endObservation(ProcessingEvent event) {
        if (observations == null || observations.isNoop()) {
            return;
        }
        ArrayDeque<Observation.Scope> stack = inProgress.get();
        if (stack == null || stack.isEmpty()) {
            log.debug("No observation in progress on this thread for {}; none stopped", event);
            return;
        }
        Observation.Scope scope = stack.removeLast();
        if (stack.isEmpty()) {
            inProgress.remove();
        }
        Observation observation = scope.getCurrentObservation();
        scope.close();
        observation.lowCardinalityKeyValue("oncely.outcome", event.outcome().tagValue());
        if (event.isBatch()) {
            observation.highCardinalityKeyValue("messaging.batch.message_count", Integer.toString(event.messages()));
        }
        if (keyInTraces) {
            event.key().ifPresent(key -> observation.highCardinalityKeyValue(KeyValue.of("oncely.key", key)));
        }
        event.failure().ifPresent(failure -> {
            observation.highCardinalityKeyValue("error.type", failure.getClass().getName());
            observation.error(failure);
        });
        observation.stop();
    }

    private Timer purgeTimer(String outcome) {
        return Timer.builder(PURGE_DURATION).description("Oncely purge runs, pauses between chunks included")
                .tag("outcome", outcome).register(registry);
    }

    /** The meters of one consumer, cached so a call looks nothing up in the registry but the counter it needs. */
    private final class ConsumerMeters {
        final String consumer;
        final Counter[] withoutFailure = new Counter[OutcomeKind.values().length];
        final Timer claim;
        final Timer handler;
        final DistributionSummary batchSize;

        ConsumerMeters(String consumer) {
            this.consumer = consumer;
            this.claim = Timer.builder(CLAIM_DURATION)
                    .description("From the begin of the claim's transaction to the claim's answer")
                    .tag("consumer", consumer).register(registry);
            this.handler = Timer.builder(HANDLER_DURATION).description("Time spent in the handler, per call")
                    .tag("consumer", consumer).register(registry);
            this.batchSize = DistributionSummary.builder(BATCH_SIZE).description("Messages per batch call")
                    .baseUnit("messages").tag("consumer", consumer).register(registry);
        }

        Counter messages(OutcomeKind kind, String exception) {
            if (NONE.equals(exception)) {
                Counter c = withoutFailure[kind.ordinal()];
                if (c == null) {
                    c = counter(kind, NONE);
                    withoutFailure[kind.ordinal()] = c;
                }
                return c;
            }
            return counter(kind, exception);
        }

        private Counter counter(OutcomeKind kind, String exception) {
            return Counter.builder(MESSAGES).description("Messages handled by Oncely, by consumer and outcome")
                    .baseUnit("messages")
                    .tag("consumer", consumer).tag("outcome", kind.tagValue()).tag("exception", exception)
                    .register(registry);
        }
    }

    /** Builds {@link OncelyMetrics}. Only the meter registry is required. */
    public static final class Builder {
        private final MeterRegistry registry;
        private ObservationRegistry observations;
        private String messagingSystem;
        private boolean keyInTraces;

        private Builder(MeterRegistry registry) {
            if (registry == null) {
                throw new IllegalArgumentException("registry is null: pass your MeterRegistry (in Spring Boot, the"
                        + " MeterRegistry bean; in tests, new SimpleMeterRegistry()).");
            }
            this.registry = registry;
        }

        /**
         * Also make each call of a handler an {@link Observation} ({@value OncelyMetrics#OBSERVATION}) in this
         * registry, for tracing. Default: no observations.
         */
        public Builder observationRegistry(ObservationRegistry observationRegistry) {
            if (observationRegistry == null) {
                throw new IllegalArgumentException("observationRegistry is null: pass one, or leave it out for no"
                        + " observations.");
            }
            this.observations = observationRegistry;
            return this;
        }

        /**
         * The OpenTelemetry {@code messaging.system} of the observations, such as {@code kafka} or {@code rabbitmq}.
         * Default: not set (a handler does not know where its messages come from).
         */
        public Builder messagingSystem(String messagingSystem) {
            if (messagingSystem == null || messagingSystem.isBlank()) {
                throw new IllegalArgumentException("messagingSystem is blank: name the broker as OpenTelemetry does,"
                        + " e.g. \"kafka\", \"rabbitmq\", \"aws_sqs\", or leave it out.");
            }
            this.messagingSystem = messagingSystem;
            return this;
        }

        /**
         * Whether observations of single messages carry their idempotency key as the high-cardinality key value
         * {@code oncely.key} (in traces only, never in meters). Off by default: keys can be personal data.
         */
        public Builder keyInTraces(boolean keyInTraces) {
            this.keyInTraces = keyInTraces;
            return this;
        }

        public OncelyMetrics build() {
            OncelyMetrics metrics = new OncelyMetrics(this);
            log.info("Oncely metrics on {} (observations: {})", registry.getClass().getSimpleName(),
                    observations == null ? "off" : "on");
            return metrics;
        }
    }

    @Override
    public String toString() {
        return "OncelyMetrics[" + registry.getClass().getSimpleName() + ", observations="
                + (observations == null ? "off" : "on") + "]";
    }
}
