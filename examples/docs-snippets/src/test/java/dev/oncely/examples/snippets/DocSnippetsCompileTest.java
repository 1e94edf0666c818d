package dev.oncely.examples.snippets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.examples.snippets.MarkdownSnippets.Snippet;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md and docs/*.md compiles against the published modules (this module's
 * test classpath), so a snippet cannot rot when the API changes. How blocks are marked: {@link MarkdownSnippets}.
 */
class DocSnippetsCompileTest {

    private static final Path ROOT = Path.of("../..");

    @TempDir
    Path classes;

    @Test
    void everyJavaBlockOfTheReadmeAndTheDocsCompiles() throws IOException {
        List<Path> files = new ArrayList<>();
        files.add(ROOT.resolve("README.md"));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        List<String> errors = new ArrayList<>();
        int compiled = 0;
        for (Path file : files) {
            String name = ROOT.relativize(file).toString();
            String markdown = Files.readString(file);
            List<Snippet> snippets = MarkdownSnippets.extract(name, markdown);
            assertThat((long) snippets.size()).as(name + ": java blocks found").isEqualTo(
                    MarkdownSnippets.countJavaFences(markdown));
            // The blocks of one file form one program: a test class may use the service class shown before it.
            errors.addAll(compile(snippets, classes.resolve(name.replaceAll("\\W", "_"))));
            compiled += snippets.size();
        }
        assertThat(errors).as("snippets that do not compile").isEmpty();
        assertThat(compiled).as("java blocks compiled (README's getting started alone has several)")
                .isGreaterThanOrEqualTo(4);
    }

    @Test
    void anUnmarkedFragmentFailsWithTheLineAndTheMarkerToUse() throws IOException {
        String markdown = "Some text.\n\n```java\nstore.createSchemaIfMissing();\n```\n";
        List<String> errors = compile(MarkdownSnippets.extract("GUIDE.md", markdown), classes);
        assertThat(errors).isNotEmpty().first().asString().startsWith("GUIDE.md:4: ")
                .contains("<!-- snippet: body(Type name, ...) -->");
    }

    @Test
    void aMarkedFragmentCompilesWithItsImportsAndParameters() throws IOException {
        String markdown = """
                <!-- snippet: body(javax.sql.DataSource dataSource) -->
                ```java
                import dev.oncely.jdbc.JdbcDedupStore;

                JdbcDedupStore store = JdbcDedupStore.builder(dataSource).build();
                ```
                """;
        assertThat(compile(MarkdownSnippets.extract("GUIDE.md", markdown), classes)).isEmpty();
    }

    @Test
    void anErrorInAMarkedFragmentPointsAtItsOwnLine() throws IOException {
        String markdown = """
                <!-- snippet: body -->
                ```java
                import java.util.List;

                List<String> names = List.of("a");
                names.frobnicate();
                ```
                """;
        List<String> errors = compile(MarkdownSnippets.extract("GUIDE.md", markdown), classes);
        assertThat(errors).singleElement().asString().startsWith("GUIDE.md:6: ").contains("frobnicate");
    }

    @Test
    void anUnknownMarkerIsRefusedRatherThanSkipped() {
        String markdown = "<!-- snippet: skip -->\n```java\nnot java at all\n```\n";
        assertThatThrownBy(() -> MarkdownSnippets.extract("GUIDE.md", markdown))
                .hasMessageContaining("GUIDE.md:1: unknown snippet marker 'skip'");
    }

    @Test
    void aJavaFenceTheParserCannotSeeIsStillCounted() {
        assertThat(MarkdownSnippets.countJavaFences("```Java\nclass A {}\n```\n  ```java\nclass B {}\n  ```\n"))
                .isEqualTo(2);
        assertThat(MarkdownSnippets.extract("GUIDE.md", "```Java\nclass A {}\n```\n  ```java\nclass B {}\n  ```\n"))
                .hasSize(2);
    }

    /** Compiles the snippets together; returns one line per error, "file:line: message (hint)". */
    private static List<String> compile(List<Snippet> snippets, Path output) throws IOException {
        if (snippets.isEmpty()) {
            return List.of();
        }
        Files.createDirectories(output);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        List<SnippetSource> sources = snippets.stream().map(SnippetSource::new).toList();
        List<String> options = List.of("-d", output.toString(), "-classpath", System.getProperty("java.class.path"),
                "--release", "17", "-proc:none", "-Xlint:none");
        javac.getTask(null, null, diagnostics, options, null, sources).call();
        List<String> errors = new ArrayList<>();
        java.util.Set<Snippet> reported = new java.util.HashSet<>();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() != Diagnostic.Kind.ERROR) {
                continue;
            }
            if (!(d.getSource() instanceof SnippetSource source)) {
                errors.add(d.getMessage(Locale.ROOT));
                continue;
            }
            Snippet s = source.snippet;
            if (!reported.add(s)) {
                continue; // the first error of a block says enough; a parse error is followed by dozens
            }
            String hint = s.mode().equals("file")
                    ? "the block is compiled as a whole source file; if it is a fragment, put"
                            + " <!-- snippet: body(Type name, ...) --> on the line before its ```java, naming the"
                            + " variables it uses"
                    : "compiled as the body of static void snippet(" + s.parameters() + ") throws Exception";
            errors.add(s.file() + ":" + s.markdownLine(d.getLineNumber()) + ": "
                    + d.getMessage(Locale.ROOT).lines().map(String::strip).collect(Collectors.joining(" ")) + " ("
                    + hint + ")");
        }
        return errors;
    }

    private static final class SnippetSource extends SimpleJavaFileObject {
        final Snippet snippet;

        SnippetSource(Snippet snippet) {
            super(URI.create("string:///" + snippet.qualifiedName().replace('.', '/') + ".java"), Kind.SOURCE);
            this.snippet = snippet;
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return snippet.source();
        }
    }
}
