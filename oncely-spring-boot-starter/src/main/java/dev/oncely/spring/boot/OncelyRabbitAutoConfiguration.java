package dev.oncely.spring.boot;

import dev.oncely.spring.amqp.OncelyRabbitErrorHandler;
import java.util.List;
import org.springframework.amqp.rabbit.config.AbstractRabbitListenerContainerFactory;
import org.springframework.amqp.rabbit.listener.ConditionalRejectingErrorHandler;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.beans.BeansException;
import org.springframework.beans.DirectFieldAccessor;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.util.ErrorHandler;

/**
 * With Spring AMQP on the classpath: an {@link OncelyRabbitErrorHandler} bean, set on every
 * {@code @RabbitListener} container factory (Spring Boot's and yours) that has no error handler of its own. Backs
 * off for an {@code OncelyRabbitErrorHandler} of yours and for {@code oncely.rabbit.error-handler=false}; a factory
 * whose error handler you set keeps it.
 */
@AutoConfiguration
@ConditionalOnClass({ConditionalRejectingErrorHandler.class, OncelyRabbitErrorHandler.class})
@ConditionalOnProperty(prefix = "oncely.rabbit", name = "error-handler", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(OncelyProperties.class)
public class OncelyRabbitAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(OncelyRabbitErrorHandler.class)
    public OncelyRabbitErrorHandler oncelyRabbitErrorHandler(ObjectProvider<RabbitListenerEndpointRegistry> registry,
                                                             OncelyProperties properties) {
        return new OncelyRabbitErrorHandler(properties.getRabbit().getStoreRetryDelay(), () -> {
            RabbitListenerEndpointRegistry endpoints = registry.getIfAvailable();
            return endpoints == null ? List.of() : endpoints.getListenerContainers();
        });
    }

    /** Sets the handler on listener container factories that have none; static, as a post-processor must be. */
    @Bean
    public static BeanPostProcessor oncelyRabbitErrorHandlerApplier(ObjectProvider<OncelyRabbitErrorHandler> handler) {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
                if (bean instanceof AbstractRabbitListenerContainerFactory<?> factory
                        && new DirectFieldAccessor(factory).getPropertyValue("errorHandler") == null) {
                    ErrorHandler errorHandler = handler.getIfUnique();
                    if (errorHandler != null) {
                        factory.setErrorHandler(errorHandler);
                    }
                }
                return bean;
            }
        };
    }
}
