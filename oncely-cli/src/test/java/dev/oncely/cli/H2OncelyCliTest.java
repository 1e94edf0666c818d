package dev.oncely.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;

class H2OncelyCliTest extends OncelyCliTestBase {

    // A named in-memory database kept open, so the CLI's own connections see the tests' tables.
    private static final String URL = "jdbc:h2:mem:oncely_cli;DB_CLOSE_DELAY=-1";
    private static final JdbcDataSource H2 = new JdbcDataSource();

    static {
        H2.setURL(URL);
    }

    @Override
    protected DataSource dataSource() {
        return H2;
    }

    @Override
    protected List<String> connection() {
        return List.of("--url", URL);
    }

    @Override
    protected String table() {
        return "oncely_cli";
    }

    @Test
    void ddlWithADialectNeedsNoDatabase() {
        Run r = run("ddl", "--url", "jdbc:postgresql://127.0.0.1:1/nowhere", "--dialect", "POSTGRESQL",
                "--table", "events");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("CREATE TABLE IF NOT EXISTS events", "timestamptz");
    }
}
