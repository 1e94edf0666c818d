package dev.oncely.examples.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's quickstart is this file's code, and it works against a real PostgreSQL. */
class QuickstartTest {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Test
    void theReadmeShowsTheCompiledQuickstart() throws Exception {
        String source = Files.readString(Path.of("src/main/java/dev/oncely/examples/quickstart/Quickstart.java"));
        String snippet = between(source, "        // --- quickstart ---\n", "        // --- end ---\n");
        String readme = Files.readString(Path.of("../../README.md"));
        String unindented = snippet.lines().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                .collect(java.util.stream.Collectors.joining("\n"));
        assertThat(readme).as("README.md must contain the quickstart exactly as compiled (less 8 spaces of indent)")
                .contains(unindented);
        assertThat(readme).as("README.md must show the charges table the quickstart creates")
                .contains("```sql\n" + Quickstart.CHARGES_DDL + ";\n```");
    }

    @Test
    void theQuickstartChargesOnceAndReportsTheRedelivery() throws Exception {
        TestDatabase db = DB.database();
        try (HikariDataSource ds = new HikariDataSource()) {
            ds.setJdbcUrl(db.jdbcUrl());
            ds.setUsername(db.user());
            ds.setPassword(db.password());
            Quickstart.createChargesTable(ds);
            PrintStream original = System.out;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            try {
                Quickstart.run(ds);
            } finally {
                System.setOut(original);
            }
            assertThat(out.toString(StandardCharsets.UTF_8)).contains("PROCESSED then DUPLICATE");
        }
    }

    @Test
    void helpListsTheFlagsInsteadOfBeingTakenForTheJdbcUrl() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Quickstart.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("Usage: quickstart")
                .contains("--jdbc-url", "--user", "--password", "--help");
    }

    @Test
    void anUnknownFlagGivesOneLineAndExitStatus2() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Quickstart.run(new String[] {"jdbc:postgresql://127.0.0.1:5432/test"},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8).strip()).isEqualTo("quickstart: unknown option"
                + " 'jdbc:postgresql://127.0.0.1:5432/test'; known: --jdbc-url, --user, --password, --help");
    }

    private static String between(String text, String start, String end) {
        int from = text.indexOf(start);
        int to = text.indexOf(end);
        assertThat(from).as("start marker").isNotNegative();
        assertThat(to).as("end marker").isGreaterThan(from);
        return text.substring(from + start.length(), to);
    }
}
