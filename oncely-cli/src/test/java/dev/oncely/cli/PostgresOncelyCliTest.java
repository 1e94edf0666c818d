package dev.oncely.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.testdatabases.TestDatabase;
import dev.oncely.testdatabases.TestDatabaseExtension;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PostgresOncelyCliTest extends OncelyCliTestBase {

    @RegisterExtension
    static final TestDatabaseExtension DB = TestDatabaseExtension.postgres();

    @Override
    protected DataSource dataSource() {
        TestDatabase db = DB.database();
        return new DriverManagerDataSource(db.jdbcUrl(), db.user(), db.password());
    }

    @Override
    protected List<String> connection() {
        TestDatabase db = DB.database();
        List<String> args = new ArrayList<>(List.of("--url", db.jdbcUrl(), "--user", db.user()));
        if (!db.password().isEmpty()) {
            args.add("--password=" + db.password());
        }
        return args;
    }

    @Override
    protected String table() {
        return "oncely_cli";
    }

    @Test
    void aDatabaseThatDoesNotAnswerIsADatabaseErrorThatSaysWhatToCheck() {
        Run r = run("counts", "--url", "jdbc:postgresql://127.0.0.1:1/h6", "--user", "postgres");

        assertThat(r.code()).isEqualTo(3);
        assertThat(r.err()).contains("Could not connect to jdbc:postgresql://127.0.0.1:1/h6 as user 'postgres'",
                "Check that the database is up");
    }
}
