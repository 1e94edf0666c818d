package dev.oncely.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.context.expression.BeanFactoryResolver;
import org.springframework.context.expression.MethodBasedEvaluationContext;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.expression.Expression;
import org.springframework.expression.spel.standard.SpelExpressionParser;

/**
 * {@link MethodExpression} binds variables once per method; every expression must still evaluate exactly as with
 * Spring's MethodBasedEvaluationContext, which the interceptor built per call before.
 */
class MethodExpressionTest {

    private static final SpelExpressionParser PARSER = new SpelExpressionParser();
    private static final ParameterNameDiscoverer NAMES = new DefaultParameterNameDiscoverer();

    public static final class Event {
        private final String id;
        private final int amount;

        Event(String id, int amount) {
            this.id = id;
            this.amount = amount;
        }

        public String getId() {
            return id;
        }

        public int getAmount() {
            return amount;
        }
    }

    /** The target: its parameter names (compiled with -parameters) include ones that shadow a0/p1 and #record. */
    public static final class Listener {
        public String getName() {
            return "listener";
        }

        void on(Event event, String source, Integer p1, Object record) {
        }

        void varargs(String first, String... rest) {
        }

        void none() {
        }
    }

    private static final Listener TARGET = new Listener();
    private static final Object[] ARGUMENTS = {new Event("e-1", 5), "kafka", 42, "the record parameter"};

    private static DefaultListableBeanFactory beans() {
        DefaultListableBeanFactory beans = new DefaultListableBeanFactory();
        beans.registerSingleton("prefix", "pre-");
        return beans;
    }

    private static Object bySpring(String text, Method method, Object root, Object[] args, Object record) {
        Expression expression = PARSER.parseExpression(text);
        MethodBasedEvaluationContext context = new MethodBasedEvaluationContext(root, method, args, NAMES);
        if (record != null) {
            context.setVariable(MethodExpression.RECORD, record);
        }
        context.setBeanResolver(new BeanFactoryResolver(beans()));
        return expression.getValue(context);
    }

    private static MethodExpression bound(String text, Method method) {
        return new MethodExpression(PARSER.parseExpression(text), method, NAMES, new BeanFactoryResolver(beans()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"#event", "#p0", "#a0", "#event.id", "#p0.amount + 1", "#source", "#a1", "#p1",
            "#p2", "#a2", "#record", "#p3", "#missing", "#p9", "#root.name", "#this.name", "name",
            "#source + '-' + #event.id", "@prefix + #event.id", "{#p0, #p1, #p2}"})
    void aCallEvaluatesEveryExpressionAsSpringsMethodContextDoes(String text) throws Exception {
        Method method = Listener.class.getDeclaredMethod("on", Event.class, String.class, Integer.class, Object.class);
        assertThat(result(() -> bound(text, method).evaluate(TARGET, ARGUMENTS)))
                .isEqualTo(result(() -> bySpring(text, method, TARGET, ARGUMENTS, null)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"#record", "#record.id", "#root.id", "id", "#p0", "#p1", "#event.id", "#source",
            "#p3", "#missing", "#source + ':' + #record.id", "#this.amount"})
    void aBatchElementEvaluatesEveryExpressionAsSpringsMethodContextDoes(String text) throws Exception {
        Method method = Listener.class.getDeclaredMethod("on", Event.class, String.class, Integer.class, Object.class);
        Event element = new Event("e-2", 7);
        assertThat(result(() -> bound(text, method).evaluateElement(element, ARGUMENTS)))
                .isEqualTo(result(() -> bySpring(text, method, element, ARGUMENTS, element)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"#p0", "#first", "#rest", "#p1", "#a1", "#rest.length"})
    void aVarargsMethodEvaluatesAsSpringsMethodContextDoes(String text) throws Exception {
        Method method = Listener.class.getDeclaredMethod("varargs", String.class, String[].class);
        Object[] args = {"a", new String[] {"b", "c"}};
        Object ours = bound(text, method).evaluate(TARGET, args);
        Object spring = bySpring(text, method, TARGET, args, null);
        if (spring instanceof Object[] array) {
            assertThat((Object[]) ours).containsExactly(array);
        } else {
            assertThat(ours).isEqualTo(spring);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"#p0", "#root.name", "'constant'"})
    void aMethodWithoutParametersEvaluatesAsSpringsMethodContextDoes(String text) throws Exception {
        Method method = Listener.class.getDeclaredMethod("none");
        assertThat(result(() -> bound(text, method).evaluate(TARGET, new Object[0])))
                .isEqualTo(result(() -> bySpring(text, method, TARGET, new Object[0], null)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"#event", "#p0", "#source", "#p0.id", "#source + #p1"})
    void aNullArgumentEvaluatesAsInSpringsMethodContext(String text) throws Exception {
        Method method = Listener.class.getDeclaredMethod("on", Event.class, String.class, Integer.class, Object.class);
        Object[] args = {null, null, null, null};
        assertThat(result(() -> bound(text, method).evaluate(TARGET, args)))
                .isEqualTo(result(() -> bySpring(text, method, TARGET, args, null)));
    }

    /** The value, or the failure's type and message: both ways must fail alike where Spring's does. */
    private static Object result(java.util.function.Supplier<Object> evaluation) {
        try {
            return evaluation.get();
        } catch (RuntimeException e) {
            return "threw " + e.getClass().getName() + ": " + e.getMessage();
        }
    }
}
