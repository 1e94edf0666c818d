package dev.oncely.jdbc.internal;

import dev.oncely.internal.Validation;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A validated table name, optionally schema-qualified, and the names derived from it in the DDL. */
public record TableName(Optional<String> schema, String table) {

    public static final String DEFAULT_TABLE = "processed_events";
    /** Leaves room for the longest suffix the DDL derives (_expires_at_idx) within PostgreSQL's 63. */
    public static final int MAX_TABLE_LENGTH = 48;
    public static final int MAX_SCHEMA_LENGTH = 63;

    public TableName {
        schema.ifPresent(s -> Validation.checkIdentifier("Schema name", s, MAX_SCHEMA_LENGTH));
        Validation.checkIdentifier("Table name", table, MAX_TABLE_LENGTH);
    }

    /** The suffix of the partition list table of the time-partitioned layout. */
    public static final String PARTITIONS_SUFFIX = "_partitions";

    /** The partition list table of the time-partitioned layout, schema-qualified like the table. */
    public String partitionsTable() {
        return sibling(table + PARTITIONS_SUFFIX);
    }

    /** Another table in this table's schema, qualified the same way. */
    public String sibling(String name) {
        return schema.map(s -> s + "." + name).orElse(name);
    }

    /** The name to write into SQL. */
    public String qualified() {
        return schema.map(s -> s + "." + table).orElse(table);
    }

    /** The DDL resource rendered for this name: every processed_events becomes the configured name. */
    public String render(String ddl) {
        // One pass: object names (constraint, index: processed_events_*) take the bare table name, the table
        // itself is schema-qualified. Two plain replaces would qualify the object names again when the table
        // keeps its default name.
        Matcher m = DEFAULT_NAME.matcher(ddl);
        StringBuilder out = new StringBuilder(ddl.length() + 64);
        while (m.find()) {
            String suffix = m.group(1);
            String replacement = suffix == null ? qualified()
                    : suffix.equals(PARTITIONS_SUFFIX) ? partitionsTable() : table + suffix;
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static final Pattern DEFAULT_NAME = Pattern.compile("\\bprocessed_events(_\\w+)?\\b");

    @Override
    public String toString() {
        return qualified();
    }
}
