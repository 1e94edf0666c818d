package dev.oncely.jdbc;

import java.util.List;
import java.util.Objects;

/**
 * How the live dedup table compares with the DDL this version of Oncely ships ({@link DedupTableAdmin#checkSchema()}).
 *
 * @param table              the table checked, e.g. {@code public.processed_events}
 * @param tablePresent       whether the table exists at all
 * @param missingColumns     columns of the DDL the table lacks: the store fails on them; apply docs/upgrading.md
 * @param unexpectedColumns  columns the table has and the DDL does not: harmless to Oncely if nullable or defaulted
 */
public record SchemaCheck(String table, boolean tablePresent, List<String> missingColumns,
                          List<String> unexpectedColumns) {

    public SchemaCheck {
        Objects.requireNonNull(table, "table");
        missingColumns = List.copyOf(missingColumns);
        unexpectedColumns = List.copyOf(unexpectedColumns);
    }

    /** Whether the store can use the table: it exists and lacks no column. */
    public boolean ok() {
        return tablePresent && missingColumns.isEmpty();
    }
}
