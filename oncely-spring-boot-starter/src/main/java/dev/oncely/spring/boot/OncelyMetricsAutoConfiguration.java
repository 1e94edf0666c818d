package dev.oncely.spring.boot;

import dev.oncely.micrometer.OncelyMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * {@link OncelyMetrics} on the application's {@link MeterRegistry}, when Micrometer is on the classpath (Actuator
 * brings it) and a MeterRegistry bean exists; with the {@link ObservationRegistry} too when there is one, so each
 * {@code @Idempotent} call is also an observation (a trace span with a tracer). {@link OncelyAutoConfiguration} sets
 * it, like every {@code OncelyListener} bean, on the handlers it builds and on the purger. Off with
 * {@code oncely.metrics.enabled=false}; your own {@code OncelyMetrics} bean replaces it.
 */
@AutoConfiguration(afterName = {
        "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
        "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
        "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration",
        "org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration"})
@ConditionalOnClass({OncelyMetrics.class, MeterRegistry.class, ObservationRegistry.class})
@ConditionalOnBean(MeterRegistry.class)
@ConditionalOnProperty(prefix = "oncely.metrics", name = "enabled", havingValue = "true", matchIfMissing = true)
public class OncelyMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(OncelyMetrics.class)
    public OncelyMetrics oncelyMetrics(MeterRegistry registry, ObjectProvider<ObservationRegistry> observations) {
        OncelyMetrics.Builder builder = OncelyMetrics.builder(registry);
        observations.ifAvailable(builder::observationRegistry);
        return builder.build();
    }
}
