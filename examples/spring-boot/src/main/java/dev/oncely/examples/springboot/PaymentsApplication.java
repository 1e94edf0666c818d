package dev.oncely.examples.springboot;

import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The Spring Boot application: nothing Oncely-specific is declared here. The starter configures the store on
 * the DataSource, {@code @Idempotent}/{@code @IdempotentBatch}, {@code OncelyMetrics} on Actuator's
 * {@code MeterRegistry}, and the Kafka error handler; {@link PaymentListeners} holds the listeners.
 */
@SpringBootApplication
public class PaymentsApplication {
}
