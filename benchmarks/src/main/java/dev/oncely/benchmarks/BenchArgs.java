package dev.oncely.benchmarks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The harnesses' flags: {@code --name value}, or a bare {@code --name} for the boolean ones. */
final class BenchArgs {

    private BenchArgs() {
    }

    /**
     * Parses {@code argv} (exec.args may arrive as one string, so tokens are split on white space).
     *
     * @param booleanFlags flags that take no value
     * @param example      a flag with a value, shown when an argument is not a flag
     */
    static Map<String, String> parse(String[] argv, Set<String> booleanFlags, String example) {
        Map<String, String> args = new LinkedHashMap<>();
        List<String> tokens = new ArrayList<>();
        for (String a : argv) {
            for (String t : a.trim().split("\\s+")) {
                if (!t.isEmpty()) {
                    tokens.add(t);
                }
            }
        }
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            if (!t.startsWith("--")) {
                throw new IllegalArgumentException("Unexpected argument '" + t + "': flags look like " + example);
            }
            String name = t.substring(2);
            if (booleanFlags.contains(name)) {
                args.put(name, "true");
            } else {
                if (i + 1 >= tokens.size()) {
                    throw new IllegalArgumentException("Flag --" + name + " needs a value");
                }
                args.put(name, tokens.get(++i));
            }
        }
        return args;
    }
}
