package dev.oncely.spring;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyListener;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.JdbcDedupStore;
import java.lang.reflect.Method;
import java.lang.reflect.UndeclaredThrowableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.springframework.aop.ProxyMethodInvocation;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.context.expression.BeanFactoryResolver;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.expression.ExpressionException;
import org.springframework.expression.spel.standard.SpelExpressionParser;

/**
 * Runs {@link Idempotent} methods through an {@link IdempotentHandler}, one per method, built at its first call: the
 * method is the handler, its invocation the message, the SpEL key the key extractor. The store's
 * {@link SpringConnectionOwner} puts the claim in the Spring transaction. A retried attempt (a serialization failure
 * in a transaction the store began) invokes the method again on a fresh copy of the invocation.
 */
public final class IdempotentInterceptor implements MethodInterceptor {

    private final Supplier<DedupStore> store;
    private final Supplier<Optional<Duration>> defaultRetention;
    private final BeanFactory beanFactory;
    private final Supplier<? extends List<? extends OncelyListener>> listeners;
    private final SpelExpressionParser parser = new SpelExpressionParser();
    private final BeanFactoryResolver beanResolver;
    /** Parameter names by method, looked up once (the discoverer reflects on every call otherwise). */
    private final ParameterNameDiscoverer parameterNames = new CachedParameterNames(new DefaultParameterNameDiscoverer());
    private final Map<Method, IdempotentHandler<Call, Object, ?>> handlers = new ConcurrentHashMap<>();
    private final Map<Method, BatchMethod> batchMethods = new ConcurrentHashMap<>();
    /**
     * What runs a call, by the invoked method and the target's class: the most specific method and its annotations
     * are looked up once, not per call (the annotation scan alone was 7% of an annotated call's client CPU).
     */
    private final Map<MethodClassKey, Invoker> invokers = new ConcurrentHashMap<>();

    /**
     * @param store            the store, resolved at the first call (a JdbcDedupStore built with
     *                         {@link SpringConnectionOwner})
     * @param defaultRetention the retention of methods whose annotation names none
     * @param beanFactory      for {@code @bean} references in SpEL and {@link Idempotent#resultCodec()} beans
     */
    public IdempotentInterceptor(Supplier<DedupStore> store, Supplier<Optional<Duration>> defaultRetention,
                                 BeanFactory beanFactory) {
        this(store, defaultRetention, beanFactory, List::of);
    }

    /**
     * As {@link #IdempotentInterceptor(Supplier, Supplier, BeanFactory)}, with the listeners (metrics, tracing) set on
     * every handler this interceptor builds.
     *
     * @param listeners the {@link OncelyListener}s, resolved at each method's first call (the starter passes the
     *                  application's OncelyListener beans, such as OncelyMetrics)
     */
    public IdempotentInterceptor(Supplier<DedupStore> store, Supplier<Optional<Duration>> defaultRetention,
                                 BeanFactory beanFactory, Supplier<? extends List<? extends OncelyListener>> listeners) {
        this.store = store;
        this.defaultRetention = defaultRetention;
        this.beanFactory = beanFactory;
        this.beanResolver = beanFactory == null ? null : new BeanFactoryResolver(beanFactory);
        this.listeners = listeners;
    }

    @Override
    public Object invoke(MethodInvocation invocation) throws Throwable {
        if (!(invocation instanceof ProxyMethodInvocation proxied)) {
            throw new MisconfigurationException("@Idempotent needs Spring AOP's proxy invocations, got "
                    + invocation.getClass().getName() + ": register IdempotentAdvisor with Spring's auto-proxying"
                    + " (@EnableIdempotent or the Spring Boot starter).");
        }
        Class<?> targetClass = invocation.getThis() == null ? invocation.getMethod().getDeclaringClass()
                : AopUtils.getTargetClass(invocation.getThis());
        MethodClassKey key = new MethodClassKey(invocation.getMethod(), targetClass);
        Invoker invoker = invokers.get(key);
        if (invoker == null) {
            // Not cached while it throws (a misconfigured method fails every call with the same message).
            invoker = invokers.computeIfAbsent(key, k -> invokerFor(k, targetClass));
        }
        return invoker.invoke(proxied);
    }

    private Invoker invokerFor(MethodClassKey key, Class<?> targetClass) {
        Method method = AopUtils.getMostSpecificMethod(key.method(), targetClass);
        if (AnnotatedElementUtils.hasAnnotation(method, IdempotentBatch.class)) {
            return batchMethods.computeIfAbsent(method, this::batchMethodFor);
        }
        IdempotentHandler<Call, Object, ?> handler = handlers.computeIfAbsent(method, this::handlerFor);
        return invocation -> handler.process(new Call(invocation, method)).result().orElse(null);
    }

    /** Runs one call of an annotated method. */
    @FunctionalInterface
    private interface Invoker {
        Object invoke(ProxyMethodInvocation invocation) throws Exception;
    }

    /** The invoked method and the target's class, the key Spring's own method caches use. */
    private record MethodClassKey(Method method, Class<?> targetClass) {
        /** Method.equals compares names and parameter types even for the same instance, which the proxy passes. */
        @Override
        public boolean equals(Object other) {
            return other instanceof MethodClassKey key && key.targetClass == targetClass
                    && (key.method == method || key.method.equals(method));
        }

        @Override
        public int hashCode() {
            return method.hashCode() * 31 + targetClass.hashCode();
        }
    }

    private BatchMethod batchMethodFor(Method method) {
        IdempotentBatch annotation = AnnotatedElementUtils.findMergedAnnotation(method, IdempotentBatch.class);
        String where = "@IdempotentBatch on " + method.getDeclaringClass().getName() + "." + method.getName();
        if (AnnotatedElementUtils.hasAnnotation(method, Idempotent.class)) {
            throw new MisconfigurationException(where + " also has @Idempotent: use one of them, @IdempotentBatch"
                    + " for a method that takes a List of messages, @Idempotent for one that takes one message.");
        }
        int listParameter = -1;
        Class<?>[] types = method.getParameterTypes();
        for (int i = 0; i < types.length && listParameter < 0; i++) {
            if (List.class.isAssignableFrom(types[i])) {
                listParameter = i;
            }
        }
        if (listParameter < 0) {
            throw new MisconfigurationException(where + " has no java.util.List parameter: the batch is the first"
                    + " List parameter (List<ConsumerRecord<K, V>>, List<Payload>). Change the parameter type, or use"
                    + " @Idempotent for a method that takes one message.");
        }
        if (method.getReturnType() != void.class) {
            throw new MisconfigurationException(where + " returns " + method.getReturnType().getName() + ": a batch"
                    + " method is called with the fresh elements only and its value cannot be given to duplicates,"
                    + " so it must return void.");
        }
        DedupStore dedupStore = springStore(where);
        MethodExpression key = parse(where, "key", annotation.key(), method);
        int batchIndex = listParameter;
        IdempotentHandler.Builder<Element, Void, ?> builder = IdempotentHandler.<Element, Void>builder(dedupStore)
                .consumer(annotation.consumer())
                .key(element -> text(element.evaluate(key)))
                .batchHandler((fresh, context) -> {
                    List<Object> elements = new ArrayList<>(fresh.size());
                    for (Element e : fresh) {
                        elements.add(e.value);
                    }
                    fresh.get(0).call.proceedWith(batchIndex, List.copyOf(elements));
                    return null;
                });
        if (!annotation.fingerprint().isBlank()) {
            MethodExpression fingerprint = parse(where, "fingerprint", annotation.fingerprint(), method);
            builder.fingerprint(element -> bytes(element.evaluate(fingerprint)));
        }
        Optional<Duration> retention = annotation.retention().isBlank() ? defaultRetention.get()
                : Optional.of(parseRetention(where, annotation.retention()));
        retention.ifPresent(builder::retention);
        for (OncelyListener listener : listeners.get()) {
            builder.listener(listener);
        }
        try {
            return new BatchMethod(method, batchIndex, builder.build(), where);
        } catch (IllegalArgumentException e) {
            throw new MisconfigurationException(where + " is invalid: " + e.getMessage(), e);
        }
    }

    private static String text(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        return value.toString();
    }

    private static byte[] bytes(Object value) {
        if (value instanceof byte[] bytes) {
            return bytes;
        }
        return String.valueOf(value).getBytes(StandardCharsets.UTF_8);
    }

    private IdempotentHandler<Call, Object, ?> handlerFor(Method method) {
        Idempotent annotation = AnnotatedElementUtils.findMergedAnnotation(method, Idempotent.class);
        if (annotation == null) {
            throw new MisconfigurationException("No @Idempotent on " + method + ", yet its advice ran: apply"
                    + " IdempotentAdvisor only through its own pointcut.");
        }
        String where = "@Idempotent on " + method.getDeclaringClass().getName() + "." + method.getName();
        DedupStore dedupStore = springStore(where);
        MethodExpression key = parse(where, "key", annotation.key(), method);
        IdempotentHandler.Builder<Call, Object, ?> builder = IdempotentHandler.<Call, Object>builder(dedupStore)
                .consumer(annotation.consumer())
                .key(call -> text(call.evaluate(key)))
                .handler((call, context) -> call.proceed());
        if (!annotation.fingerprint().isBlank()) {
            MethodExpression fingerprint = parse(where, "fingerprint", annotation.fingerprint(), method);
            builder.fingerprint(call -> bytes(call.evaluate(fingerprint)));
        }
        if (!annotation.resultCodec().isBlank()) {
            builder.resultCodec(codec(where, annotation.resultCodec()));
        } else if (method.getReturnType().isPrimitive() && method.getReturnType() != void.class) {
            throw new MisconfigurationException(where + " returns " + method.getReturnType() + ", but a duplicate"
                    + " has no value to return without a result codec. Name a ResultCodec bean in resultCodec, or"
                    + " return void or an object type (null for duplicates).");
        }
        Optional<Duration> retention = annotation.retention().isBlank() ? defaultRetention.get()
                : Optional.of(parseRetention(where, annotation.retention()));
        retention.ifPresent(builder::retention);
        for (OncelyListener listener : listeners.get()) {
            builder.listener(listener);
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw new MisconfigurationException(where + " is invalid: " + e.getMessage(), e);
        }
    }

    private DedupStore springStore(String where) {
        DedupStore dedupStore;
        try {
            dedupStore = store.get();
        } catch (BeansException e) {
            throw new MisconfigurationException(where + " needs one DedupStore bean: " + e.getMessage()
                    + ". Add oncely-spring-boot-starter, or declare SpringConnectionOwner.storeBuilder(dataSource,"
                    + " transactionManager).build() as a bean.", e);
        }
        if (!(dedupStore instanceof JdbcDedupStore jdbc) || !(jdbc.connections() instanceof SpringConnectionOwner)) {
            throw new MisconfigurationException(where + " needs its claims in the Spring transaction, but the"
                    + " DedupStore bean " + dedupStore + " runs transactions of its own, so the claim would commit"
                    + " apart from the method's writes. Build it with SpringConnectionOwner.storeBuilder(dataSource,"
                    + " transactionManager) (the starter does).");
        }
        return dedupStore;
    }

    private MethodExpression parse(String where, String attribute, String text, Method method) {
        if (text.isBlank()) {
            throw new MisconfigurationException(where + " has an empty " + attribute + ": give a SpEL expression"
                    + " over the parameters, such as \"#event.id\".");
        }
        try {
            return new MethodExpression(parser.parseExpression(text), method, parameterNames, beanResolver);
        } catch (ExpressionException e) {
            throw new MisconfigurationException(where + " has an invalid " + attribute + " expression '" + text
                    + "': " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private ResultCodec<Object> codec(String where, String beanName) {
        try {
            return beanFactory.getBean(beanName, ResultCodec.class);
        } catch (BeansException e) {
            throw new MisconfigurationException(where + " names result codec '" + beanName + "', but there is no"
                    + " ResultCodec bean of that name: " + e.getMessage(), e);
        }
    }

    private static Duration parseRetention(String where, String text) {
        try {
            return Duration.parse(text);
        } catch (DateTimeParseException e) {
            throw new MisconfigurationException(where + " has retention '" + text + "', which is not an ISO-8601"
                    + " duration: write it like \"P7D\" or \"PT12H\".", e);
        }
    }

    /** One call of an annotated method: the handler's message. */
    final class Call {
        private final ProxyMethodInvocation invocation;
        private final Method method;

        Call(ProxyMethodInvocation invocation, Method method) {
            this.invocation = invocation;
            this.method = method;
        }

        Object evaluate(MethodExpression expression) {
            return expression.evaluate(invocation.getThis(), invocation.getArguments());
        }

        /** Runs the method; a copy of the invocation each time, so that a retried attempt runs it again. */
        Object proceed() throws Exception {
            return proceedWith(invocation.invocableClone());
        }

        /** Runs the method with argument {@code index} replaced, on a copy of the invocation. */
        Object proceedWith(int index, Object argument) throws Exception {
            Object[] arguments = invocation.getArguments().clone();
            arguments[index] = argument;
            return proceedWith(invocation.invocableClone(arguments));
        }

        private Object proceedWith(MethodInvocation copy) throws Exception {
            try {
                return copy.proceed();
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new UndeclaredThrowableException(t);
            }
        }

        @Override
        public String toString() {
            return method.getDeclaringClass().getSimpleName() + "." + method.getName() + " call";
        }
    }

    /** An {@link IdempotentBatch} method: its handler, whose messages are the batch's elements. */
    final class BatchMethod implements Invoker {
        private final Method method;
        private final int listParameter;
        private final IdempotentHandler<Element, Void, ?> handler;
        private final String where;

        BatchMethod(Method method, int listParameter, IdempotentHandler<Element, Void, ?> handler, String where) {
            this.method = method;
            this.listParameter = listParameter;
            this.handler = handler;
            this.where = where;
        }

        @Override
        public Object invoke(ProxyMethodInvocation invocation) throws Exception {
            Object argument = invocation.getArguments()[listParameter];
            if (argument == null) {
                throw new InvalidMessageException(where + " was called with a null batch. Nothing was"
                        + " written.");
            }
            List<?> batch = (List<?>) argument;
            Call call = new Call(invocation, method);
            List<Element> elements = new ArrayList<>(batch.size());
            for (Object value : batch) {
                elements.add(new Element(call, value));
            }
            handler.processBatch(elements);
            return null;
        }
    }

    /** One element of a batch: the handler's message; {@code #record} in the key expression. */
    final class Element {
        private final Call call;
        private final Object value;

        Element(Call call, Object value) {
            this.call = call;
            this.value = value;
        }

        Object evaluate(MethodExpression expression) {
            return expression.evaluateElement(value, call.invocation.getArguments());
        }

        @Override
        public String toString() {
            return value == null ? "null element" : value.getClass().getSimpleName() + " element";
        }
    }

    /** A discoverer that asks its delegate once per method. */
    private static final class CachedParameterNames implements ParameterNameDiscoverer {
        private final ParameterNameDiscoverer delegate;
        private final Map<Method, Optional<String[]>> byMethod = new ConcurrentHashMap<>();

        CachedParameterNames(ParameterNameDiscoverer delegate) {
            this.delegate = delegate;
        }

        @Override
        public String[] getParameterNames(Method method) {
            return byMethod.computeIfAbsent(method, m -> Optional.ofNullable(delegate.getParameterNames(m)))
                    .orElse(null);
        }

        @Override
        public String[] getParameterNames(java.lang.reflect.Constructor<?> constructor) {
            return delegate.getParameterNames(constructor);
        }
    }
}
