package dev.oncely.spring.boot;

import dev.oncely.spring.kafka.OncelyKafkaErrorHandler;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.kafka.listener.CommonErrorHandler;
import org.springframework.kafka.listener.ConsumerRecordRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;

/**
 * With Spring Kafka on the classpath: {@link OncelyKafkaErrorHandler} as the application's {@link CommonErrorHandler},
 * which Spring Boot's Kafka auto-configuration sets on its listener container factory. Backs off for a
 * {@code CommonErrorHandler} of yours (then call {@link OncelyKafkaErrorHandler#classify} on your own
 * {@code DefaultErrorHandler}) and for {@code oncely.kafka.error-handler=false}. A single
 * {@link ConsumerRecordRecoverer} bean (e.g. a {@code DeadLetterPublishingRecoverer}) receives the records that are
 * not retried; without one they are logged and skipped.
 */
@AutoConfiguration
@ConditionalOnClass({DefaultErrorHandler.class, OncelyKafkaErrorHandler.class})
@ConditionalOnProperty(prefix = "oncely.kafka", name = "error-handler", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(OncelyProperties.class)
public class OncelyKafkaAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(CommonErrorHandler.class)
    public OncelyKafkaErrorHandler oncelyKafkaErrorHandler(ObjectProvider<ConsumerRecordRecoverer> recoverer,
                                                           OncelyProperties properties) {
        ConsumerRecordRecoverer unique = recoverer.getIfUnique();
        DefaultErrorHandler handler = unique == null ? new DefaultErrorHandler() : new DefaultErrorHandler(unique);
        return new OncelyKafkaErrorHandler(handler, properties.getKafka().getStoreRetryDelay());
    }
}
