package dev.oncely.spring.boot;

import dev.oncely.DedupStore;
import dev.oncely.OncelyListener;
import dev.oncely.RetentionPurger;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.jdbc.JdbcDedupStoreBuilder;
import dev.oncely.spring.IdempotentAdvisor;
import dev.oncely.spring.IdempotentInterceptor;
import dev.oncely.spring.SpringConnectionOwner;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Role;
import org.springframework.transaction.PlatformTransactionManager;

/**
 * Oncely on the application's DataSource: a {@link JdbcDedupStore} whose claims join the Spring-managed transaction
 * ({@link SpringConnectionOwner}), the {@link dev.oncely.spring.Idempotent} annotation, and, when
 * {@code oncely.purger.enabled=true}, the {@link RetentionPurger}. Every bean backs off for one of your own. Every
 * {@link OncelyListener} bean (such as the {@code OncelyMetrics} of {@link OncelyMetricsAutoConfiguration}) is set on
 * the handlers of {@code @Idempotent} methods and on the purger.
 *
 * <p>Runs after the transaction auto-configuration, so Spring's transaction advisor is registered first and, at
 * equal order, runs outside the {@code @Idempotent} advice: the claim joins your {@code @Transactional} transaction
 * with its isolation and timeout.
 */
@AutoConfiguration(after = {DataSourceAutoConfiguration.class, DataSourceTransactionManagerAutoConfiguration.class,
        TransactionAutoConfiguration.class},
        afterName = "org.springframework.boot.hibernate.autoconfigure.HibernateJpaAutoConfiguration")
@ConditionalOnClass({JdbcDedupStore.class, PlatformTransactionManager.class})
@EnableConfigurationProperties(OncelyProperties.class)
public class OncelyAutoConfiguration {

    private static final Logger log = LoggerFactory.getLogger(OncelyAutoConfiguration.class);

    /** The store: on the one DataSource, with the one transaction manager. */
    @Bean
    @ConditionalOnMissingBean(DedupStore.class)
    @ConditionalOnSingleCandidate(DataSource.class)
    @ConditionalOnBean(PlatformTransactionManager.class)
    public JdbcDedupStore oncelyDedupStore(DataSource dataSource, PlatformTransactionManager transactionManager,
                                           OncelyProperties properties) {
        JdbcDedupStoreBuilder builder = SpringConnectionOwner.storeBuilder(dataSource, transactionManager)
                .table(properties.getTable())
                .maxRetries(properties.getMaxRetries());
        if (properties.getSchema() != null) {
            builder.schema(properties.getSchema());
        }
        if (properties.getDatabase() != null) {
            builder.database(properties.getDatabase());
        }
        JdbcDedupStore store = builder.build();
        if (properties.isCreateSchema()) {
            store.createSchemaIfMissing();
        }
        return store;
    }

    /**
     * The advice of {@code @Idempotent} methods. Static and infrastructure-role like Spring's transaction advisor;
     * the store and the properties are looked up at the first call, so creating it early initialises nothing.
     */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    @ConditionalOnMissingBean(IdempotentAdvisor.class)
    public static IdempotentAdvisor oncelyIdempotentAdvisor(ObjectProvider<DedupStore> store,
                                                           ObjectProvider<OncelyProperties> properties,
                                                           ObjectProvider<OncelyListener> listeners,
                                                           BeanFactory beanFactory) {
        return new IdempotentAdvisor(new IdempotentInterceptor(store::getObject,
                () -> Optional.ofNullable(properties.getObject().getRetention()), beanFactory,
                () -> listeners.orderedStream().toList()));
    }

    /** The background purger of expired claims, only when asked for. */
    @Bean
    @ConditionalOnMissingBean({RetentionPurger.class, RetentionPurgerLifecycle.class})
    @ConditionalOnBean(DedupStore.class)
    @ConditionalOnProperty(prefix = "oncely.purger", name = "enabled", havingValue = "true")
    public RetentionPurgerLifecycle oncelyRetentionPurger(DedupStore store, OncelyProperties properties,
                                                          ObjectProvider<OncelyListener> listeners) {
        OncelyProperties.Purger settings = properties.getPurger();
        if (properties.getRetention() == null) {
            log.warn("oncely.purger.enabled is true but oncely.retention is not set: claims of @Idempotent methods"
                    + " without a retention are kept forever and the purger deletes none of them. Set"
                    + " oncely.retention (e.g. 7d), or disable the purger.");
        }
        RetentionPurger.Builder purger = RetentionPurger.builder(store)
                .interval(settings.getInterval())
                .chunkSize(settings.getChunkSize())
                .pauseBetweenChunks(settings.getPauseBetweenChunks());
        listeners.orderedStream().forEach(purger::listener);
        return new RetentionPurgerLifecycle(purger.build());
    }
}
