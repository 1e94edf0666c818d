package dev.oncely.jdbc.internal;

import dev.oncely.MisconfigurationException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Once per store (again until it passes): every table the dialect uses exists and has every column the dialect
 * reads or writes. Without it a table missing, say, {@code result} would take the first claim of a key and its
 * business writes, and fail only at the redelivery that reads the result: a message that could never be
 * acknowledged. One {@code SELECT * ... WHERE 1 = 0} per table, which resolves the name exactly as the claims do
 * (schema, search path, case) and reads no row.
 */
public final class TableShape {

    private final SqlDialect dialect;
    private final TableName table;
    private final SqlErrors errors;
    private final String description;
    private final Map<String, List<String>> columns;
    private volatile boolean checked;

    /** The tables and columns the dialect uses ({@link SqlDialect#columnsUsed}). */
    public TableShape(SqlDialect dialect, TableName table, SqlErrors errors, String description) {
        this(dialect, table, errors, description, dialect.columnsUsed(table));
    }

    /** The given tables and columns, e.g. the lease columns. */
    public TableShape(SqlDialect dialect, TableName table, SqlErrors errors, String description,
                      Map<String, List<String>> columns) {
        this.dialect = dialect;
        this.table = table;
        this.errors = errors;
        this.description = description;
        this.columns = Map.copyOf(columns);
    }

    /** Whether the check has passed; after that it costs nothing. */
    public boolean checked() {
        return checked;
    }

    /** Checks the tables on {@code connection} unless that passed before; throws a MisconfigurationException. */
    public void check(Connection connection) {
        if (checked) {
            return;
        }
        for (Map.Entry<String, List<String>> used : columns.entrySet()) {
            String name = used.getKey();
            Set<String> present = new HashSet<>();
            try (Statement st = connection.createStatement();
                 ResultSet rs = st.executeQuery("SELECT * FROM " + name + " WHERE 1 = 0")) {
                ResultSetMetaData columns = rs.getMetaData();
                for (int i = 1; i <= columns.getColumnCount(); i++) {
                    present.add(columns.getColumnName(i).toLowerCase(Locale.ROOT));
                }
            } catch (SQLException e) {
                if (dialect.isMissingTable(e)) {
                    throw new MisconfigurationException("Table " + name + " does not exist, so " + description
                            + " cannot claim anything; nothing was claimed (roll back your transaction if you joined"
                            + " one with processIn). Apply Oncely's DDL (classpath"
                            + " resource " + dialect.ddlResource() + ", also printed by JdbcDedupStore#ddl()) with"
                            + " your migration tool, or call createSchemaIfMissing() on the store once at startup.", e);
                }
                throw errors.translate("Checking the columns of " + name, e);
            }
            List<String> missing = used.getValue().stream().filter(c -> !present.contains(c)).toList();
            if (!missing.isEmpty()) {
                throw new MisconfigurationException("Table " + name + " lacks the column" + (missing.size() == 1
                        ? " " : "s ") + String.join(", ", missing) + ", which " + description + " reads or"
                        + " writes: it was probably created by an older version of Oncely. Nothing was claimed (roll"
                        + " back your transaction if you joined one with processIn). Compare the table with the DDL"
                        + " (classpath resource " + dialect.ddlResource() + ", also printed by JdbcDedupStore#ddl())"
                        + " and apply the changes listed in docs/upgrading.md.");
            }
        }
        checked = true;
    }
}
