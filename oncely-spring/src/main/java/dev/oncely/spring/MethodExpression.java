package dev.oncely.spring;

import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;
import org.springframework.context.expression.MethodBasedEvaluationContext;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.expression.BeanResolver;
import org.springframework.expression.Expression;
import org.springframework.expression.spel.ast.VariableReference;
import org.springframework.expression.spel.standard.SpelExpression;
import org.springframework.expression.spel.support.StandardEvaluationContext;

/**
 * A SpEL expression of {@link Idempotent} or {@link IdempotentBatch}, bound to its method and evaluated per call with
 * what Spring's {@link MethodBasedEvaluationContext} offers: {@code #a0}, {@code #p0}, the parameter names, the
 * target (or the batch element) as the root object, {@code @bean} references. The variable names are bound to
 * argument positions once per method, not per call as {@code MethodBasedEvaluationContext} does (it concatenates
 * and stores 2-3 variables per parameter on every evaluation); an expression that is a single variable
 * ({@code #p0}, {@code #event}) reads the argument without running SpEL at all. Varargs methods, whose last variable
 * Spring builds from the trailing arguments, keep Spring's own context.
 */
final class MethodExpression {

    /** The batch element's variable. */
    static final String RECORD = "record";

    private final Expression expression;
    private final Method method;
    private final ParameterNameDiscoverer parameterNames;
    private final BeanResolver beanResolver;
    /** Argument position by variable name, the last binding winning as in MethodBasedEvaluationContext; null for varargs. */
    private final Map<String, Integer> positions;
    /** The variable's name if the whole expression is one variable reference (never #root or #this), else null. */
    private final String onlyVariable;
    /**
     * A parameter named like the element's variable: Spring's context then binds #record to the element until its
     * first lookup of another variable loads the parameters, and to the parameter after. Such a method keeps Spring's
     * context for the elements, so that a key reads as it always did.
     */
    private final boolean recordParameter;

    MethodExpression(Expression expression, Method method, ParameterNameDiscoverer parameterNames,
                     BeanResolver beanResolver) {
        this.expression = expression;
        this.method = method;
        this.parameterNames = parameterNames;
        this.beanResolver = beanResolver;
        this.positions = method.isVarArgs() ? null : positions(method, parameterNames.getParameterNames(method));
        this.onlyVariable = positions == null ? null : onlyVariable(expression);
        this.recordParameter = positions == null || positions.containsKey(RECORD);
    }

    /** Binds a0/p0/name for each parameter in MethodBasedEvaluationContext's order: a later name hides an earlier. */
    private static Map<String, Integer> positions(Method method, String[] names) {
        int count = names != null ? names.length : method.getParameterCount();
        Map<String, Integer> positions = new HashMap<>();
        for (int i = 0; i < count; i++) {
            positions.put("a" + i, i);
            positions.put("p" + i, i);
            if (names != null && names[i] != null) {
                positions.put(names[i], i);
            }
        }
        return positions;
    }

    private static String onlyVariable(Expression expression) {
        if (expression instanceof SpelExpression spel && spel.getAST() instanceof VariableReference variable) {
            String name = variable.toStringAST().substring(1); // "#name"
            // #root and #this are the root object and the current one, not variables.
            return name.equals("root") || name.equals("this") ? null : name;
        }
        return null;
    }

    /** The value for a call of the method on {@code target} with {@code arguments}. */
    Object evaluate(Object target, Object[] arguments) {
        if (onlyVariable != null) {
            return argument(arguments, onlyVariable);
        }
        return expression.getValue(context(target, arguments, positions == null));
    }

    /** The value for one element of a batch: {@code #record} and the root object are the element. */
    Object evaluateElement(Object element, Object[] arguments) {
        if (onlyVariable != null) {
            return onlyVariable.equals(RECORD) ? element : argument(arguments, onlyVariable);
        }
        StandardEvaluationContext context = context(element, arguments, recordParameter);
        context.setVariable(RECORD, element);
        return expression.getValue(context);
    }

    private Object argument(Object[] arguments, String name) {
        Integer position = positions.get(name);
        return position == null || position >= arguments.length ? null : arguments[position];
    }

    private StandardEvaluationContext context(Object root, Object[] arguments, boolean springs) {
        StandardEvaluationContext context = springs
                ? new MethodBasedEvaluationContext(root, method, arguments, parameterNames)
                : new Arguments(root, arguments);
        if (beanResolver != null) {
            context.setBeanResolver(beanResolver);
        }
        return context;
    }

    /** A context whose method variables are read from the arguments through the positions bound once. */
    private final class Arguments extends StandardEvaluationContext {
        private final Object[] arguments;

        Arguments(Object root, Object[] arguments) {
            super(root);
            this.arguments = arguments;
        }

        @Override
        public Object lookupVariable(String name) {
            Object value = super.lookupVariable(name);
            return value != null ? value : argument(arguments, name);
        }
    }
}
