package dev.oncely.spring;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a method that takes a batch (a {@code java.util.List} parameter, such as a batch {@code @KafkaListener}'s
 * {@code List<ConsumerRecord<K, V>>} or {@code List<Payload>}) with <em>one</em> set-based claim for the whole batch:
 * the keys of all elements are claimed in one statement, in the Spring-managed transaction, and the method is then
 * called once with the <em>fresh</em> elements only (duplicates, and repeats of a key within the batch, left out), in
 * input order, so their business rows can be written together. If every element is a duplicate, the method is not
 * called. The claims and the method's writes commit or roll back together.
 *
 * <pre>{@code
 * @KafkaListener(topics = "orders", batch = "true")
 * @IdempotentBatch(consumer = "orders", key = "#record.key()")
 * @Transactional
 * public void on(List<ConsumerRecord<String, String>> records) { jdbcTemplate.batchUpdate(...); }
 * }</pre>
 *
 * <p>All or nothing: if the method throws, or one element has no valid key, nothing of the batch commits and the
 * exception reaches the caller (for a listener: its container's error handler). The method must return
 * {@code void}; its other parameters (an {@code Acknowledgment}, a {@code Consumer}) are passed unchanged. The
 * transaction rules are those of {@link Idempotent}: inside an active transaction the claim joins it, with none it
 * begins one through the transaction manager. docs/spring.md.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface IdempotentBatch {

    /** The consumer name: the same key is processed once per consumer. Up to 100 characters. */
    String consumer();

    /**
     * A SpEL expression evaluated once per element of the batch, giving that element's idempotency key: the element
     * is {@code #record} (and the root object), the method's parameters are available as for {@link Idempotent}.
     * For example {@code "#record.key()"}, {@code "#record.headers().lastHeader('event-id').value()"} (bytes are read
     * as UTF-8) or {@code "#record.id"} for a payload. A null or blank key is an {@code InvalidMessageException}.
     */
    String key();

    /**
     * Optional SpEL expression per element (the element is {@code #record}) for its payload fingerprint: the same key
     * with another fingerprint is a {@code PayloadConflictException}. Empty for none.
     */
    String fingerprint() default "";

    /**
     * How long a claim is kept, as an ISO-8601 duration ({@code "P7D"}); at least a minute. Empty: the default of
     * the configuration ({@code oncely.retention} in the starter), or forever if there is none.
     */
    String retention() default "";
}
