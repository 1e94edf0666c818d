package dev.oncely.spring;

import dev.oncely.DedupStore;
import java.util.Optional;
import org.springframework.aop.config.AopConfigUtils;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.ImportBeanDefinitionRegistrar;
import org.springframework.context.annotation.Role;
import org.springframework.core.type.AnnotationMetadata;

/** The beans {@link EnableIdempotent} registers. */
@Configuration(proxyBeanMethods = false)
@Role(BeanDefinition.ROLE_INFRASTRUCTURE)
@Import(IdempotentConfiguration.AutoProxyRegistrar.class)
public class IdempotentConfiguration {

    /**
     * The advisor of {@link Idempotent} methods. Static and infrastructure-role, as Spring's own transaction advisor:
     * created early by the auto-proxy creator, it resolves the store only at the first call.
     */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    public static IdempotentAdvisor oncelyIdempotentAdvisor(ObjectProvider<DedupStore> store, BeanFactory beanFactory) {
        return new IdempotentAdvisor(new IdempotentInterceptor(store::getObject, Optional::empty, beanFactory));
    }

    /** An auto-proxy creator if the application has none (Spring Boot and @EnableTransactionManagement have one). */
    static final class AutoProxyRegistrar implements ImportBeanDefinitionRegistrar {
        @Override
        public void registerBeanDefinitions(AnnotationMetadata metadata, BeanDefinitionRegistry registry) {
            AopConfigUtils.registerAutoProxyCreatorIfNecessary(registry);
        }
    }
}
