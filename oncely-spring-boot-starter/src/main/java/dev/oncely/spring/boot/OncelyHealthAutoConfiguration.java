package dev.oncely.spring.boot;

import dev.oncely.jdbc.JdbcDedupStore;
import javax.sql.DataSource;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/** The {@code oncely} health contributor, when Actuator's health support is on the classpath. */
@AutoConfiguration(after = OncelyAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(JdbcDedupStore.class)
@ConditionalOnEnabledHealthIndicator("oncely")
public class OncelyHealthAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "oncelyHealthIndicator")
    @ConditionalOnSingleCandidate(DataSource.class)
    public OncelyHealthIndicator oncelyHealthIndicator(JdbcDedupStore store, DataSource dataSource,
                                                       ObjectProvider<RetentionPurgerLifecycle> purger) {
        return new OncelyHealthIndicator(store, dataSource, purger.getIfAvailable());
    }
}
