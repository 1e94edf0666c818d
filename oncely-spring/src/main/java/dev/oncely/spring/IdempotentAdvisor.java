package dev.oncely.spring;

import org.springframework.aop.Pointcut;
import org.springframework.aop.support.ComposablePointcut;
import org.springframework.aop.support.AbstractPointcutAdvisor;
import org.springframework.aop.support.annotation.AnnotationMatchingPointcut;
import org.springframework.core.Ordered;

/**
 * Applies {@link IdempotentInterceptor} to {@link Idempotent} and {@link IdempotentBatch} methods. Its order is the lowest precedence, as
 * {@code @EnableTransactionManagement}'s default: whichever of the two runs first, the claim and the method share
 * one transaction (both join with propagation REQUIRED), see {@link Idempotent}.
 */
public final class IdempotentAdvisor extends AbstractPointcutAdvisor {

    private static final long serialVersionUID = 1L;

    private final transient IdempotentInterceptor interceptor;
    private final transient Pointcut pointcut = new ComposablePointcut(
            AnnotationMatchingPointcut.forMethodAnnotation(Idempotent.class))
            .union(AnnotationMatchingPointcut.forMethodAnnotation(IdempotentBatch.class));

    public IdempotentAdvisor(IdempotentInterceptor interceptor) {
        this.interceptor = interceptor;
        setOrder(Ordered.LOWEST_PRECEDENCE);
    }

    @Override
    public Pointcut getPointcut() {
        return pointcut;
    }

    @Override
    public IdempotentInterceptor getAdvice() {
        return interceptor;
    }
}
