package dev.oncely.examples.snippets;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code ```java} blocks of a Markdown file, each turned into a Java source file to compile.
 *
 * <p>A block is compiled as it stands, as a whole source file (imports, a package if any, top-level types), unless
 * the line before its fence is a marker:
 * <ul>
 *   <li>{@code <!-- snippet: body -->} or {@code <!-- snippet: body(javax.sql.DataSource dataSource, ...) -->}: the
 *       block's leading imports stay imports and the rest becomes the body of a method that declares
 *       {@code throws Exception} and takes the named parameters: the variables the text says the reader already
 *       has.</li>
 * </ul>
 * There is no marker that skips a block: a fragment that cannot be compiled either way must be rewritten.
 * A block without a marker that is not a whole source file fails to compile, with a message naming the marker.
 */
final class MarkdownSnippets {

    private static final Pattern FENCE = Pattern.compile("^\\s*```\\s*(\\S*)\\s*$");
    private static final Pattern JAVA_FENCE = Pattern.compile("^\\s*```\\s*java\\s*$", Pattern.CASE_INSENSITIVE);
    private static final Pattern MARKER = Pattern.compile("^\\s*<!--\\s*snippet:\\s*(.*?)\\s*-->\\s*$");
    private static final Pattern BODY = Pattern.compile("body(?:\\((.*)\\))?");
    private static final Pattern PUBLIC_TYPE =
            Pattern.compile("(?m)^public\\s+(?:(?:final|abstract|sealed)\\s+)*(?:class|interface|record|enum)\\s+(\\w+)");
    private static final Pattern PACKAGE = Pattern.compile("(?m)^package\\s+([\\w.]+)\\s*;");

    /** One block, as Java source whose line N is line {@code fenceLine + N} of the Markdown file. */
    record Snippet(String file, int fenceLine, String mode, String parameters, String className, String source) {

        int markdownLine(long sourceLine) {
            return fenceLine + (int) sourceLine;
        }

        String qualifiedName() {
            Matcher m = PACKAGE.matcher(source);
            return m.find() ? m.group(1) + "." + className : className;
        }
    }

    private MarkdownSnippets() {
    }

    /** Lines that open a Java block, counted without the parser: a block the parser misses must not pass. */
    static long countJavaFences(String markdown) {
        boolean inside = false;
        long count = 0;
        for (String line : markdown.split("\n", -1)) {
            if (FENCE.matcher(line).matches()) {
                if (!inside && JAVA_FENCE.matcher(line).matches()) {
                    count++;
                }
                inside = !inside;
            }
        }
        return count;
    }

    static List<Snippet> extract(String file, String markdown) {
        String[] lines = markdown.split("\n", -1);
        List<Snippet> snippets = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            Matcher fence = FENCE.matcher(lines[i]);
            if (!fence.matches()) {
                continue;
            }
            int end = i + 1;
            while (end < lines.length && !FENCE.matcher(lines[end]).matches()) {
                end++;
            }
            if (end == lines.length) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": code block never closed");
            }
            if (JAVA_FENCE.matcher(lines[i]).matches()) {
                List<String> code = List.of(lines).subList(i + 1, end);
                snippets.add(toSource(file, i + 1, marker(file, lines, i), code));
            }
            i = end;
        }
        return snippets;
    }

    private static Optional<String> marker(String file, String[] lines, int fence) {
        int previous = fence - 1;
        while (previous >= 0 && lines[previous].isBlank()) {
            previous--;
        }
        if (previous < 0) {
            return Optional.empty();
        }
        Matcher m = MARKER.matcher(lines[previous]);
        if (m.matches()) {
            return Optional.of(m.group(1));
        }
        if (lines[previous].contains("snippet:")) {
            throw new IllegalArgumentException(file + ":" + (previous + 1) + ": malformed snippet marker '"
                    + lines[previous].strip() + "'; write <!-- snippet: body(Type name, ...) -->");
        }
        return Optional.empty();
    }

    private static Snippet toSource(String file, int fenceLine, Optional<String> marker, List<String> code) {
        String generatedName = "Snippet_" + file.replaceAll("\\W", "_") + "_L" + fenceLine;
        if (marker.isEmpty()) {
            String source = String.join("\n", code) + "\n";
            Matcher publicType = PUBLIC_TYPE.matcher(source);
            return new Snippet(file, fenceLine, "file", "", publicType.find() ? publicType.group(1) : generatedName,
                    source);
        }
        Matcher body = BODY.matcher(marker.get());
        if (!body.matches()) {
            throw new IllegalArgumentException(file + ":" + (fenceLine - 1) + ": unknown snippet marker '"
                    + marker.get() + "'; the only one is body(Type name, ...); a whole source file needs none");
        }
        String parameters = body.group(1) == null ? "" : body.group(1);
        // Imports (and blank or comment lines among them) stay at the top; the wrapper opens on the line before the
        // first statement, so that line numbers in javac's messages are the block's own.
        int first = 0;
        while (first < code.size() && (code.get(first).isBlank() || code.get(first).startsWith("import ")
                || code.get(first).startsWith("//"))) {
            first++;
        }
        String open = "final class " + generatedName + " { static void snippet(" + parameters
                + ") throws Exception {";
        List<String> out = new ArrayList<>(code);
        if (first == 0) {
            out.add(0, open);
        } else {
            out.set(first - 1, out.get(first - 1) + " " + open);
        }
        out.add("}}");
        String source = String.join("\n", out) + "\n";
        // first == 0 shifted the block down by one line
        return new Snippet(file, first == 0 ? fenceLine - 1 : fenceLine, "body", parameters, generatedName,
                source);
    }
}
