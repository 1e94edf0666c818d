package dev.oncely.cli;

import dev.oncely.MisconfigurationException;
import dev.oncely.OncelyException;
import dev.oncely.jdbc.ConsumerCounts;
import dev.oncely.jdbc.DedupTableAdmin;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.jdbc.JdbcDedupStoreBuilder;
import dev.oncely.jdbc.Database;
import dev.oncely.jdbc.KeyInfo;
import dev.oncely.jdbc.SchemaCheck;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code oncely}: operate Oncely's dedup table from a shell. A thin shell around {@link DedupTableAdmin}; see
 * docs/operating.md. Exit codes: 0 ok, 1 not found (key, consumer; check: table missing or lacking columns),
 * 2 usage (bad option, no driver for the URL), 3 database error (cannot connect, missing table, key in use).
 */
@Command(name = "oncely", mixinStandardHelpOptions = true, version = "oncely 0.1.0",
        description = "Operate Oncely's dedup table (processed_events): explain or forget a key, count keys per"
                + " consumer, purge expired keys, maintain partitions, retry a key parked as failed in lease mode, print"
                + " or check the DDL.",
        subcommands = {OncelyCli.Explain.class, OncelyCli.Forget.class, OncelyCli.Counts.class,
                OncelyCli.Purge.class, OncelyCli.Maintain.class, OncelyCli.RetryFailed.class, OncelyCli.Ddl.class,
                OncelyCli.Check.class,
                CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:ok", "1:not found (key, consumer); check: table missing or lacking columns",
                "2:usage error (bad option, no JDBC driver for the URL)",
                "3:database error (cannot connect, missing table, key in use, ...)"},
        footer = {"", "Connection options may come from the environment: ONCELY_JDBC_URL, ONCELY_JDBC_USER,"
                + " ONCELY_JDBC_PASSWORD."})
public final class OncelyCli implements Callable<Integer> {

    static final int OK = 0;
    static final int NOT_FOUND = 1;
    static final int USAGE = 2;
    static final int DATABASE = 3;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new OncelyCli()).execute(args));
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    /** A failure with the exit code and message the user sees. */
    static final class CliFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int exitCode;

        CliFailure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    /** Where and how to reach the table; shared by every subcommand. */
    static final class TableOptions {
        @Option(names = "--url", defaultValue = "${env:ONCELY_JDBC_URL}",
                description = "JDBC URL, e.g. jdbc:postgresql://localhost:5432/app (env ONCELY_JDBC_URL).")
        String url;

        @Option(names = "--user", defaultValue = "${env:ONCELY_JDBC_USER}",
                description = "Database user (env ONCELY_JDBC_USER).")
        String user;

        @Option(names = "--password", defaultValue = "${env:ONCELY_JDBC_PASSWORD}", arity = "0..1",
                interactive = true, description = "Database password (env ONCELY_JDBC_PASSWORD; without a value:"
                + " asked for).")
        String password;

        @Option(names = "--table", defaultValue = "processed_events",
                description = "Table name (default: ${DEFAULT-VALUE}).")
        String table;

        @Option(names = "--schema", description = "Schema of the table (default: the connection's search path).")
        String schema;

        @Option(names = "--dialect", description = "Dialect, if not detected: ${COMPLETION-CANDIDATES}.")
        Database dialect;

        @Option(names = "--partition-length", description = "Time-partitioned layout (PostgreSQL): partition"
                + " length as the store was built with, ISO-8601 (e.g. P1D). Needs --overlap.")
        Duration partitionLength;

        @Option(names = "--overlap", description = "Time-partitioned layout: the overlap, ISO-8601 (e.g. PT30M).")
        Duration overlap;

        @Option(names = "--json", description = "Print JSON for scripts instead of a table.")
        boolean json;

        /** The store, after a test connection that says what is wrong with the URL or the credentials. */
        JdbcDedupStore store(boolean connect) {
            if (url == null || url.isBlank()) {
                throw new CliFailure(USAGE, "No JDBC URL: pass --url (e.g. --url jdbc:postgresql://localhost:5432/app)"
                        + " or set ONCELY_JDBC_URL.");
            }
            if ((partitionLength == null) != (overlap == null)) {
                throw new CliFailure(USAGE, "--partition-length and --overlap go together: pass both, as the store"
                        + " was built with timePartitioned(partitionLength, overlap), or neither.");
            }
            DriverManagerDataSource dataSource = new DriverManagerDataSource(url, user, password == null ? "" : password);
            if (connect || dialect == null) {
                testConnection(dataSource);
            }
            JdbcDedupStoreBuilder builder = JdbcDedupStore.builder(dataSource).table(table);
            if (schema != null) {
                builder.schema(schema);
            }
            if (dialect != null) {
                builder.database(dialect);
            }
            if (partitionLength != null) {
                builder.timePartitioned(partitionLength, overlap);
            }
            return builder.build();
        }

        private void testConnection(DriverManagerDataSource dataSource) {
            try {
                DriverManager.getDriver(url);
            } catch (SQLException e) {
                throw new CliFailure(USAGE, "No JDBC driver accepts the URL '" + url + "'. This tool bundles the"
                        + " drivers for PostgreSQL (jdbc:postgresql://host:5432/db), MariaDB and MySQL"
                        + " (jdbc:mariadb://host:3306/db) and H2 (jdbc:h2:...): check the URL's prefix.");
            }
            try (Connection c = dataSource.getConnection()) {
                c.isValid(5);
            } catch (SQLException e) {
                throw new CliFailure(DATABASE, "Could not connect to " + url + (user == null ? "" : " as user '"
                        + user + "'") + ": " + e.getMessage() + ". Check that the database is up and the host,"
                        + " port, database name, --user and --password are right.");
            }
        }
    }

    /** A subcommand on the table: builds the admin, runs, maps failures to exit codes and messages. */
    abstract static class TableCommand implements Callable<Integer> {
        @Mixin
        TableOptions options;

        @Spec
        CommandSpec spec;

        /** The store the command runs on; set before {@link #run}. */
        JdbcDedupStore store;

        abstract int run(DedupTableAdmin admin, PrintWriter out);

        /** Whether the command needs the database (ddl with --dialect does not). */
        boolean connects() {
            return true;
        }

        /** Whether the command needs the table to exist, and says so up front if it does not. */
        boolean needsTable() {
            return true;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try {
                store = options.store(connects());
                DedupTableAdmin admin = store.admin();
                if (needsTable() && !admin.checkSchema().tablePresent()) {
                    throw new CliFailure(DATABASE, "Table " + admin.tableName() + " does not exist in " + options.url
                            + ". Print its DDL with 'oncely ddl' (same --url, --table, --schema) and apply it, or"
                            + " check --table and --schema.");
                }
                int code = run(admin, out);
                out.flush();
                return code;
            } catch (CliFailure e) {
                err.println("oncely: " + e.getMessage());
                return e.exitCode;
            } catch (IllegalArgumentException e) {
                err.println("oncely: " + e.getMessage());
                return USAGE;
            } catch (MisconfigurationException e) {
                err.println("oncely: " + e.getMessage());
                return DATABASE;
            } catch (OncelyException e) {
                err.println("oncely: " + e.getMessage());
                return DATABASE;
            } finally {
                err.flush();
            }
        }

        boolean json() {
            return options.json;
        }

        /** Not found: the key, or the consumer (then which consumers exist). */
        CliFailure notFound(DedupTableAdmin admin, String consumer, String key) {
            List<String> consumers = admin.counts().stream().map(ConsumerCounts::consumer).toList();
            if (!consumers.contains(consumer)) {
                return new CliFailure(NOT_FOUND, "Unknown consumer '" + consumer + "': " + admin.tableName()
                        + " holds no key of it. " + (consumers.isEmpty() ? "The table is empty."
                        : "Consumers in it: " + String.join(", ", consumers) + "."));
            }
            return new CliFailure(NOT_FOUND, "Key '" + key + "' of consumer '" + consumer + "' is not in "
                    + admin.tableName() + ": never processed, or purged after it expired.");
        }
    }

    /** A command about one key: its consumer and the key, in that order. */
    abstract static class KeyCommand extends TableCommand {
        @Parameters(index = "0", paramLabel = "CONSUMER", description = "The consumer.")
        String consumer;

        @Parameters(index = "1", paramLabel = "KEY", description = "The key (event id).")
        String key;
    }

    @Command(name = "explain", mixinStandardHelpOptions = true,
            description = "Show a key's state (PROCESSED, EXPIRED, IN_PROGRESS), when it was first processed, when"
                    + " it expires, its stored result's size and whether a fingerprint is stored.")
    static final class Explain extends KeyCommand {
        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            KeyInfo info = admin.explain(consumer, key).orElseThrow(() -> notFound(admin, consumer, key));
            if (json()) {
                out.println(Json.object(
                        "consumer", info.consumer(), "key", info.key(), "state", info.state().name(),
                        "firstProcessedAt", info.firstProcessedAt().map(Instant::toString).orElse(null),
                        "expiresAt", info.expiresAt().map(Instant::toString).orElse(null),
                        "resultBytes", info.resultBytes().isPresent() ? info.resultBytes().getAsLong() : null,
                        "fingerprintPresent", info.fingerprintPresent()));
            } else {
                Text.pairs(out, List.of(
                        new String[] {"consumer", info.consumer()},
                        new String[] {"key", info.key()},
                        new String[] {"state", info.state().name()},
                        new String[] {"first processed at", info.firstProcessedAt().map(Instant::toString)
                                .orElse("(not committed yet)")},
                        new String[] {"expires at", info.expiresAt().map(Instant::toString).orElse("never")},
                        new String[] {"result", info.resultBytes().isPresent()
                                ? info.resultBytes().getAsLong() + " bytes" : "none stored"},
                        new String[] {"fingerprint", info.fingerprintPresent() ? "stored" : "none"}));
            }
            return OK;
        }
    }

    @Command(name = "forget", mixinStandardHelpOptions = true,
            description = "Delete a key's claim so its next delivery is processed again (its effects happen again)."
                    + " Refused while an open transaction holds the claim. Logged as an audit line on stderr.")
    static final class Forget extends KeyCommand {
        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            if (!admin.forget(consumer, key)) {
                throw notFound(admin, consumer, key);
            }
            if (json()) {
                out.println(Json.object("consumer", consumer, "key", key, "forgotten", true));
            } else {
                out.println("Forgot key '" + key + "' of consumer '" + consumer + "' in " + admin.tableName()
                        + ": its next delivery is processed again.");
            }
            return OK;
        }
    }

    @Command(name = "counts", mixinStandardHelpOptions = true,
            description = "Keys per consumer, and how many of them have expired (the backlog a purge removes).")
    static final class Counts extends TableCommand {
        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            List<ConsumerCounts> counts = admin.counts();
            if (json()) {
                out.println(counts.stream().map(c -> Json.object("consumer", c.consumer(), "keys", c.keys(),
                        "expired", c.expired())).collect(Collectors.joining(",", "[", "]")));
            } else {
                List<String[]> rows = new ArrayList<>();
                rows.add(new String[] {"CONSUMER", "KEYS", "EXPIRED"});
                counts.forEach(c -> rows.add(new String[] {c.consumer(), Long.toString(c.keys()),
                        Long.toString(c.expired())}));
                Text.table(out, rows);
                if (counts.isEmpty()) {
                    out.println("(" + admin.tableName() + " is empty)");
                }
            }
            return OK;
        }
    }

    @Command(name = "purge", mixinStandardHelpOptions = true,
            description = "Delete expired keys once, at most --max-rows (time-partitioned: drop at most one expired"
                    + " partition).")
    static final class Purge extends TableCommand {
        @Option(names = "--max-rows", defaultValue = "10000", description = "At most this many (default: ${DEFAULT-VALUE}).")
        int maxRows;

        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            int purged = admin.purgeOnce(maxRows);
            out.println(json() ? Json.object("purged", purged)
                    : "Purged " + purged + " expired key" + (purged == 1 ? "" : "s") + " from " + admin.tableName() + ".");
            return OK;
        }
    }

    @Command(name = "maintain", mixinStandardHelpOptions = true,
            description = "Time-partitioned layout: create partitions ahead and drop at most one expired partition"
                    + " (needs --partition-length and --overlap).")
    static final class Maintain extends TableCommand {
        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            long dropped = admin.maintainPartitionsOnce();
            out.println(json() ? Json.object("droppedKeys", dropped)
                    : "Maintained the partitions of " + admin.tableName() + "; dropped about " + dropped
                    + " expired keys.");
            return OK;
        }
    }

    @Command(name = "retry-failed", mixinStandardHelpOptions = true,
            description = "Lease mode: make a key parked as FAILED (after maxAttempts failed runs) processable again;"
                    + " its next delivery runs the handler again (attempt 1; steps an earlier attempt recorded are"
                    + " skipped). Exit 1 if the key is not FAILED.")
    static final class RetryFailed extends TableCommand {
        @Option(names = "--consumer", required = true, description = "The consumer.")
        String consumer;

        @Option(names = "--key", required = true, description = "The key (event id).")
        String key;

        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            var leases = store.leases().orElseThrow(() -> new CliFailure(USAGE, store.describe() + " has no lease"
                    + " operations (the time-partitioned layout has none): no key of it can be FAILED."));
            if (!leases.retryFailed(consumer, key)) {
                if (admin.explain(consumer, key).isEmpty()) {
                    throw notFound(admin, consumer, key);
                }
                throw new CliFailure(NOT_FOUND, "Key '" + key + "' of consumer '" + consumer + "' is not FAILED"
                        + " (completed, processed in a transaction, or still being retried by lease mode): nothing"
                        + " to retry.");
            }
            if (json()) {
                out.println(Json.object("consumer", consumer, "key", key, "retried", true));
            } else {
                out.println("Key '" + key + "' of consumer '" + consumer + "' is no longer FAILED: its next delivery"
                        + " runs the handler again (attempt 1), skipping the steps earlier attempts recorded.");
            }
            return OK;
        }
    }

    @Command(name = "ddl", mixinStandardHelpOptions = true,
            description = "Print the table's DDL for the database (or --dialect, then without connecting) and names.")
    static final class Ddl extends TableCommand {
        @Override
        boolean connects() {
            return false;
        }

        @Override
        boolean needsTable() {
            return false;
        }

        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            out.println(json() ? Json.object("table", admin.tableName(), "ddl", admin.ddl()) : admin.ddl());
            return OK;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Compare the live table's columns with the DDL's. Exit 0 if it matches, 1 if the table is"
                    + " missing or lacks columns.")
    static final class Check extends TableCommand {
        @Override
        boolean needsTable() {
            return false;
        }

        @Override
        int run(DedupTableAdmin admin, PrintWriter out) {
            SchemaCheck check = admin.checkSchema();
            if (json()) {
                out.println(Json.object("table", check.table(), "tablePresent", check.tablePresent(), "ok", check.ok(),
                        "missingColumns", check.missingColumns(), "unexpectedColumns", check.unexpectedColumns()));
            } else if (!check.tablePresent()) {
                out.println("Table " + check.table() + " does not exist. Print its DDL with 'oncely ddl' and apply it.");
            } else if (!check.missingColumns().isEmpty()) {
                out.println("Table " + check.table() + " lacks columns: " + String.join(", ", check.missingColumns())
                        + ". It was created by an older version or by hand: apply docs/upgrading.md, or compare it"
                        + " with 'oncely ddl'.");
            } else {
                out.println("Table " + check.table() + " matches the DDL" + (check.unexpectedColumns().isEmpty() ? "."
                        : " (it also has columns Oncely does not use: " + String.join(", ", check.unexpectedColumns())
                        + ")."));
            }
            return check.ok() ? OK : NOT_FOUND;
        }
    }

    /** Plain-text output a person reads. */
    static final class Text {
        private Text() {
        }

        static void pairs(PrintWriter out, List<String[]> pairs) {
            int width = pairs.stream().mapToInt(p -> p[0].length()).max().orElse(0);
            for (String[] p : pairs) {
                out.println(String.format(Locale.ROOT, "%-" + width + "s  %s", p[0], p[1]));
            }
        }

        static void table(PrintWriter out, List<String[]> rows) {
            int[] width = new int[rows.get(0).length];
            for (String[] row : rows) {
                for (int i = 0; i < row.length; i++) {
                    width[i] = Math.max(width[i], row[i].length());
                }
            }
            for (String[] row : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < row.length; i++) {
                    // the first column (a name) left-aligned, numbers right-aligned
                    String cell = i == 0 ? String.format(Locale.ROOT, "%-" + width[i] + "s", row[i])
                            : String.format(Locale.ROOT, "%" + width[i] + "s", row[i]);
                    line.append(i == 0 ? "" : "  ").append(cell);
                }
                out.println(line.toString().stripTrailing());
            }
        }
    }

    /** Just enough JSON for flat objects of strings, numbers, booleans, nulls and string lists. */
    static final class Json {
        private Json() {
        }

        static String object(Object... keysAndValues) {
            StringBuilder sb = new StringBuilder("{");
            for (int i = 0; i < keysAndValues.length; i += 2) {
                sb.append(i == 0 ? "" : ",").append(string((String) keysAndValues[i])).append(':')
                        .append(value(keysAndValues[i + 1]));
            }
            return sb.append('}').toString();
        }

        private static String value(Object v) {
            if (v == null || v instanceof Number || v instanceof Boolean) {
                return String.valueOf(v);
            }
            if (v instanceof List<?> list) {
                return list.stream().map(Json::value).collect(Collectors.joining(",", "[", "]"));
            }
            return string(v.toString());
        }

        static String string(String s) {
            StringBuilder sb = new StringBuilder("\"");
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (ch < 0x20) {
                            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                        } else {
                            sb.append(ch);
                        }
                    }
                }
            }
            return sb.append('"').toString();
        }
    }

}
