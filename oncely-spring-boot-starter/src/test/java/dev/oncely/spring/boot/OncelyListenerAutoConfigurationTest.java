package dev.oncely.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.CommitOutcomeUnknownException;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.PayloadConflictException;
import dev.oncely.TransientStoreException;
import dev.oncely.spring.amqp.OncelyRabbitErrorHandler;
import dev.oncely.spring.kafka.OncelyKafkaErrorHandler;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.rabbit.config.SimpleRabbitListenerContainerFactory;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.listener.ConditionalRejectingErrorHandler;
import org.springframework.beans.DirectFieldAccessor;
import org.springframework.boot.amqp.autoconfigure.RabbitAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.listener.CommonErrorHandler;
import org.springframework.kafka.listener.DefaultErrorHandler;

/**
 * The listener error handlers the starter adds next to Spring Boot's own Kafka and RabbitMQ auto-configuration
 * (no broker needed: nothing connects), and that a user's own beans and the properties win.
 */
class OncelyListenerAutoConfigurationTest {

    private final ApplicationContextRunner kafka = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(KafkaAutoConfiguration.class,
                    OncelyKafkaAutoConfiguration.class));

    private final ApplicationContextRunner rabbit = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(RabbitAutoConfiguration.class,
                    OncelyRabbitAutoConfiguration.class));

    @Test
    void bootsKafkaListenerFactoryGetsTheOncelyErrorHandlerWithOncelysExceptionsClassified() {
        kafka.withPropertyValues("oncely.kafka.store-retry-delay=250ms").run(context -> {
            assertThat(context).hasSingleBean(OncelyKafkaErrorHandler.class);
            OncelyKafkaErrorHandler handler = context.getBean(OncelyKafkaErrorHandler.class);
            ConcurrentKafkaListenerContainerFactory<?, ?> factory = context.getBean(
                    ConcurrentKafkaListenerContainerFactory.class);
            assertThat(new DirectFieldAccessor(factory).getPropertyValue("commonErrorHandler")).isSameAs(handler);

            DefaultErrorHandler defaults = handler.defaultErrorHandler();
            // removeClassification returns the classification it removed: false means "not retryable".
            assertThat(defaults.removeClassification(InvalidMessageException.class)).isFalse();
            assertThat(defaults.removeClassification(PayloadConflictException.class)).isFalse();
            assertThat(defaults.removeClassification(MisconfigurationException.class)).isFalse();
            assertThat(defaults.removeClassification(TransientStoreException.class)).as("retryable").isNull();
            assertThat(defaults.removeClassification(CommitOutcomeUnknownException.class)).as("retryable").isNull();
        });
    }

    @Test
    void aUsersOwnKafkaErrorHandlerWinsAndThePropertyTurnsOncelysOff() {
        DefaultErrorHandler own = new DefaultErrorHandler();
        kafka.withBean(CommonErrorHandler.class, () -> own).run(context -> {
            assertThat(context).doesNotHaveBean(OncelyKafkaErrorHandler.class);
            assertThat(new DirectFieldAccessor(context.getBean(ConcurrentKafkaListenerContainerFactory.class))
                    .getPropertyValue("commonErrorHandler")).isSameAs(own);
        });
        kafka.withPropertyValues("oncely.kafka.error-handler=false")
                .run(context -> assertThat(context).doesNotHaveBean(OncelyKafkaErrorHandler.class));
    }

    @Test
    void bootsRabbitListenerFactoryGetsTheOncelyErrorHandler() {
        rabbit.run(context -> {
            assertThat(context).hasSingleBean(OncelyRabbitErrorHandler.class);
            SimpleRabbitListenerContainerFactory factory = context.getBean(SimpleRabbitListenerContainerFactory.class);
            assertThat(errorHandlerOf(factory)).isSameAs(context.getBean(OncelyRabbitErrorHandler.class));
        });
    }

    @Test
    void aRabbitFactoryWithAnErrorHandlerOfItsOwnKeepsItAndThePropertyTurnsOncelysOff() {
        ConditionalRejectingErrorHandler own = new ConditionalRejectingErrorHandler();
        rabbit.withBean("rabbitListenerContainerFactory", SimpleRabbitListenerContainerFactory.class, () -> {
            SimpleRabbitListenerContainerFactory factory = new SimpleRabbitListenerContainerFactory();
            factory.setConnectionFactory(new CachingConnectionFactory());
            factory.setErrorHandler(own);
            return factory;
        }).run(context -> assertThat(errorHandlerOf(context.getBean(SimpleRabbitListenerContainerFactory.class)))
                .isSameAs(own));
        rabbit.withPropertyValues("oncely.rabbit.error-handler=false").run(context -> {
            assertThat(context).doesNotHaveBean(OncelyRabbitErrorHandler.class);
            assertThat(errorHandlerOf(context.getBean(SimpleRabbitListenerContainerFactory.class))).isNull();
        });
    }

    @Test
    void theConfigurationMetadataDescribesTheListenerProperties() throws Exception {
        try (var in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            String json = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            for (String name : List.of("oncely.kafka.error-handler", "oncely.kafka.store-retry-delay",
                    "oncely.rabbit.error-handler", "oncely.rabbit.store-retry-delay")) {
                assertThat(json).contains("\"" + name + "\"");
            }
        }
    }

    private static Object errorHandlerOf(SimpleRabbitListenerContainerFactory factory) {
        return new DirectFieldAccessor(factory).getPropertyValue("errorHandler");
    }
}
