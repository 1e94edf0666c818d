package dev.oncely.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.IdempotentHandler;
import dev.oncely.KeyFailedException;
import dev.oncely.LeasedHandler;
import dev.oncely.ResultCodec;
import dev.oncely.jdbc.JdbcDedupStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The CLI run in-process, as {@code main} runs it, against one database; output captured. */
abstract class OncelyCliTestBase {

    protected abstract DataSource dataSource();

    /** --url, --user, --password of the test database. */
    protected abstract List<String> connection();

    protected abstract String table();

    protected JdbcDedupStore store;

    record Run(int code, String out, String err) {
    }

    protected Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new OncelyCli());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /** A subcommand with the test database's connection and table, then {@code more}. */
    protected Run on(String command, String... more) {
        List<String> args = new ArrayList<>();
        args.add(command);
        args.addAll(connection());
        args.add("--table");
        args.add(table());
        args.addAll(List.of(more));
        return run(args.toArray(String[]::new));
    }

    protected void sql(String statement) throws Exception {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute(statement);
        }
    }

    @BeforeEach
    void tableWithKeys() throws Exception {
        store = JdbcDedupStore.builder(dataSource()).table(table()).build().createSchemaIfMissing();
        sql("DELETE FROM " + table());
        IdempotentHandler<String, String, ?> billing = IdempotentHandler.<String, String>builder(store)
                .consumer("billing").key(k -> k).retention(Duration.ofDays(7))
                .fingerprint(k -> k.getBytes(StandardCharsets.UTF_8)).resultCodec(ResultCodec.utf8())
                .handler((k, tx) -> "ok").build();
        billing.process("order-1");
        billing.process("order-2");
        IdempotentHandler.<String, Void>builder(store).consumer("shipping").key(k -> k)
                .handler((k, tx) -> null).build().process("parcel-1");
        sql("UPDATE " + table() + " SET expires_at = TIMESTAMP '2000-01-01 00:00:00' WHERE event_id = 'order-2'");
    }

    @Test
    void helpListsEveryCommandAndTheExitCodes() {
        Run r = run("--help");

        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("explain", "forget", "counts", "purge", "maintain", "retry-failed", "ddl",
                "check",
                "Exit codes", "ONCELY_JDBC_URL");
        assertThat(run("explain", "--help").out()).contains("--url", "--json", "CONSUMER", "KEY");
    }

    @Test
    void explainPrintsAKeyAsATableAndAsJson() {
        Run table = on("explain", "billing", "order-1");
        assertThat(table.code()).as(table.err()).isZero();
        assertThat(table.out()).contains("state               PROCESSED", "result              2 bytes",
                "fingerprint         stored", "first processed at  20");

        Run json = on("explain", "billing", "order-2", "--json");
        assertThat(json.code()).as(json.err()).isZero();
        assertThat(json.out().strip()).startsWith("{\"consumer\":\"billing\",\"key\":\"order-2\",\"state\":\"EXPIRED\"")
                .contains("\"expiresAt\":\"2000-01-01T00:00:00Z\"", "\"resultBytes\":2", "\"fingerprintPresent\":true");

        Run noResult = on("explain", "shipping", "parcel-1", "--json");
        assertThat(noResult.out()).contains("\"expiresAt\":null", "\"resultBytes\":null", "\"fingerprintPresent\":false");
    }

    @Test
    void anUnknownKeyExitsOneAndSaysSo() {
        Run r = on("explain", "billing", "order-9");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).contains("Key 'order-9' of consumer 'billing' is not in", "never processed");
    }

    @Test
    void anUnknownConsumerExitsOneAndNamesTheConsumersThatExist() {
        Run r = on("forget", "biling", "order-1");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("Unknown consumer 'biling'", "Consumers in it: billing, shipping.");
    }

    @Test
    void forgetDeletesTheKeySoItIsProcessedAgain() {
        Run r = on("forget", "billing", "order-1", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("{\"consumer\":\"billing\",\"key\":\"order-1\",\"forgotten\":true}");
        assertThat(on("explain", "billing", "order-1").code()).isEqualTo(1);
        assertThat(on("forget", "billing", "order-1").code()).isEqualTo(1);
    }

    @Test
    void countsPrintATableAndJsonWithTheExpiredBacklog() {
        Run table = on("counts");
        assertThat(table.code()).as(table.err()).isZero();
        assertThat(table.out().lines().toList()).containsExactly(
                "CONSUMER  KEYS  EXPIRED",
                "billing      2        1",
                "shipping     1        0");

        Run json = on("counts", "--json");
        assertThat(json.out().strip()).isEqualTo("[{\"consumer\":\"billing\",\"keys\":2,\"expired\":1},"
                + "{\"consumer\":\"shipping\",\"keys\":1,\"expired\":0}]");
    }

    @Test
    void purgeRemovesTheExpiredKeys() {
        Run r = on("purge", "--json");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("{\"purged\":1}");
        assertThat(on("counts", "--json").out()).contains("{\"consumer\":\"billing\",\"keys\":1,\"expired\":0}");
        assertThat(on("purge", "--max-rows", "0").code()).isEqualTo(2);
    }

    @Test
    void retryFailedMakesAKeyParkedAsFailedProcessableAgainAndRefusesAKeyThatIsNotFailed() throws Exception {
        boolean[] fail = {true};
        LeasedHandler<String, Void, RuntimeException> payments = LeasedHandler.<String, Void>builder(store)
                .consumer("payments").key(k -> k).maxAttempts(1)
                .handler((k, run) -> {
                    if (fail[0]) {
                        throw new IllegalStateException("the payment API is down");
                    }
                    return null;
                }).build();
        assertThatThrownBy(() -> payments.process("charge-1")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> payments.process("charge-1")).isInstanceOf(KeyFailedException.class);
        assertThat(stateOf("payments", "charge-1")).isEqualTo("FAILED attempt 1");

        Run retried = on("retry-failed", "--consumer", "payments", "--key", "charge-1");
        assertThat(retried.code()).as(retried.err()).isZero();
        assertThat(retried.out()).contains("Key 'charge-1' of consumer 'payments' is no longer FAILED");
        fail[0] = false;
        assertThat(payments.process("charge-1").isProcessed()).isTrue();
        assertThat(stateOf("payments", "charge-1")).isEqualTo("COMPLETED attempt 1");

        Run notFailed = on("retry-failed", "--consumer", "payments", "--key", "charge-1", "--json");
        assertThat(notFailed.code()).isEqualTo(1);
        assertThat(notFailed.err()).contains("Key 'charge-1' of consumer 'payments' is not FAILED");
        assertThat(stateOf("payments", "charge-1")).isEqualTo("COMPLETED attempt 1");
        Run unknown = on("retry-failed", "--consumer", "payments", "--key", "charge-9");
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err()).contains("Key 'charge-9' of consumer 'payments' is not in");
        assertThat(on("retry-failed", "--consumer", "payments").code()).as("--key missing").isEqualTo(2);
    }

    private String stateOf(String consumer, String key) throws Exception {
        try (Connection c = dataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT state, attempt FROM " + table() + " WHERE consumer = '" + consumer
                     + "' AND event_id = '" + key + "'")) {
            return rs.next() ? rs.getString(1) + " attempt " + rs.getInt(2) : "absent";
        }
    }

    @Test
    void maintainOnAPlainTableSaysHowToUseTheLayout() {
        Run r = on("maintain");

        assertThat(r.code()).isEqualTo(3);
        assertThat(r.err()).contains("is not time-partitioned");
    }

    @Test
    void ddlAndCheckAgreeOnAGoodTableAndCheckNamesAMissingColumn() throws Exception {
        Run ddl = on("ddl");
        assertThat(ddl.code()).as(ddl.err()).isZero();
        assertThat(ddl.out()).contains("CREATE TABLE IF NOT EXISTS " + table());

        Run ok = on("check");
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("matches the DDL");

        String broken = table() + "_old";
        sql("DROP TABLE IF EXISTS " + broken);
        JdbcDedupStore.builder(dataSource()).table(broken).build().createSchemaIfMissing();
        sql("ALTER TABLE " + broken + " DROP COLUMN result");
        try {
            Run bad = run(withConnection("check", "--table", broken, "--json"));
            assertThat(bad.code()).isEqualTo(1);
            assertThat(bad.out()).contains("\"tablePresent\":true", "\"ok\":false", "\"missingColumns\":[\"result\"]");
        } finally {
            sql("DROP TABLE " + broken);
        }
    }

    @Test
    void aMissingTablePointsAtTheDdlCommand() {
        Run explain = run(withConnection("explain", "billing", "order-1", "--table", "oncely_cli_absent"));
        assertThat(explain.code()).isEqualTo(3);
        assertThat(explain.err()).contains("oncely_cli_absent does not exist", "'oncely ddl'");

        Run check = run(withConnection("check", "--table", "oncely_cli_absent"));
        assertThat(check.code()).isEqualTo(1);
        assertThat(check.out()).contains("does not exist");
    }

    @Test
    void aUrlNoDriverAcceptsIsAUsageErrorThatNamesTheBundledDrivers() {
        Run r = run("counts", "--url", "jdbc:oracle:thin:@//db:1521/app");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("No JDBC driver accepts the URL 'jdbc:oracle:thin:@//db:1521/app'",
                "jdbc:postgresql://", "jdbc:mariadb://", "jdbc:h2:");
    }

    @Test
    void missingOrBadOptionsAreUsageErrors() {
        assertThat(run("counts").code()).isEqualTo(2);
        assertThat(run("counts").err()).contains("No JDBC URL", "ONCELY_JDBC_URL");
        assertThat(run("counts", "--no-such-option").code()).isEqualTo(2);
        assertThat(run("explain", "billing").code()).isEqualTo(2); // KEY missing
        Run badTable = run(withConnection("counts", "--table", "bad-name"));
        assertThat(badTable.code()).isEqualTo(2);
        assertThat(badTable.err()).contains("bad-name");
        assertThat(run("frobnicate").code()).isEqualTo(2);
    }

    protected String[] withConnection(String command, String... more) {
        List<String> args = new ArrayList<>();
        args.add(command);
        args.addAll(connection());
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }
}
