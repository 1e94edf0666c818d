package dev.oncely.spring;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs the method once per key and consumer, however often it is called with the same key: the key is claimed in
 * the Spring-managed transaction, as its first statement, and the method's writes (JdbcTemplate, JPA repositories,
 * on the store's DataSource) commit or roll back with the claim. A call whose key was processed before returns
 * without running the method: {@code null} (or, with {@link #resultCodec()}, the first run's return value).
 *
 * <pre>{@code
 * @Idempotent(consumer = "billing", key = "#event.id")
 * @Transactional
 * public void on(ChargeEvent event) { jdbcTemplate.update("insert into charges ...", ...); }
 * }</pre>
 *
 * <p>Inside an active transaction the claim joins it (whether {@code @Transactional} runs before or after this
 * advice: both use propagation REQUIRED); with none it begins one through the application's transaction manager,
 * so the method's writes join the claim. Requires a {@code JdbcDedupStore} built with {@link SpringConnectionOwner}
 * (the starter makes one) and {@link EnableIdempotent} (the starter enables it). Exactly once holds for writes in
 * that transaction; anything else the method does (an HTTP call, a message sent) is at least once. docs/spring.md.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface Idempotent {

    /** The consumer name: the same key is processed once per consumer. Up to 100 characters. */
    String consumer();

    /**
     * A SpEL expression over the method's parameters giving the idempotency key, such as {@code "#event.id"} or
     * {@code "#p0"} ({@code -parameters} gives names); {@code @bean} references work. Its value's
     * {@code toString()} is the key, a {@code byte[]} (a Kafka header's value) read as UTF-8 (1 to 255 characters);
     * a null key is an {@code InvalidMessageException}.
     */
    String key();

    /**
     * Optional SpEL expression for the payload's fingerprint ({@code byte[]}, or anything else by its
     * {@code toString()} in UTF-8): the same key with another fingerprint is a {@code PayloadConflictException}
     * instead of a duplicate. Empty for none.
     */
    String fingerprint() default "";

    /**
     * Optional name of a {@code ResultCodec} bean for the method's return type: the first run's return value is
     * stored with the claim and returned to duplicates. Empty: duplicates return {@code null} (a primitive return
     * type then needs a codec).
     */
    String resultCodec() default "";

    /**
     * How long a claim is kept, as an ISO-8601 duration ({@code "P7D"}); at least a minute. Empty: the default of
     * the configuration ({@code oncely.retention} in the starter), or forever if there is none.
     */
    String retention() default "";
}
