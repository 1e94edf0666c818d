package dev.oncely.spring;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.context.annotation.Import;

/**
 * Enables {@link Idempotent} on the beans of a plain Spring application (the Spring Boot starter does it for you):
 * registers the advisor and, if there is none, an auto-proxy creator. The application context needs one
 * {@code DedupStore} bean, a {@code JdbcDedupStore} built with {@link SpringConnectionOwner}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Import(IdempotentConfiguration.class)
public @interface EnableIdempotent {
}
