package dev.oncely.jdbc.internal;

import dev.oncely.internal.Validation;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A validated table name, optionally schema-qualified, and the names derived from it in the DDL. */
public record TableName(Optional<String> schema, String table) {

    public static final String DEFAULT_TABLE = "processed_events";
    /** Leaves room for the longest suffix the DDL derives (_expires_at_idx) within PostgreSQL's 63. */
    public static final int MAX_TABLE_LENGTH = 48;
    public static final int MAX_SCHEMA_LENGTH = 63;

    public TableName {
        schema.ifPresent(s -> checkNotReserved("Schema name",
                Validation.checkIdentifier("Schema name", s, MAX_SCHEMA_LENGTH)));
        checkNotReserved("Table name", Validation.checkIdentifier("Table name", table, MAX_TABLE_LENGTH));
    }

    /**
     * Names are written into SQL unquoted (quoting would make them case-sensitive on PostgreSQL and H2 but not on
     * MariaDB, and the DDL users apply by hand would have to match), so a reserved word would pass the pattern and
     * then fail as a syntax error at the first statement. Rejected up front instead.
     */
    private static void checkNotReserved(String what, String name) {
        String upper = name.toUpperCase(Locale.ROOT);
        if (RESERVED_WORDS.contains(upper)) {
            throw new IllegalArgumentException(what + " '" + name + "' is a reserved word of PostgreSQL, MariaDB/MySQL"
                    + " or H2, and Oncely writes names into SQL unquoted, so every statement on it would fail as a"
                    + " syntax error. Choose a name that is not a keyword, e.g. '" + name.toLowerCase(Locale.ROOT)
                    + "_events'.");
        }
    }

    /**
     * The words none of the supported databases accepts as an unquoted table or schema name: PostgreSQL's reserved
     * keywords (pg_get_keywords() categories R and T, PostgreSQL 15; SYSTEM_USER from 16), MariaDB 10.11's (every keyword of
     * information_schema.KEYWORDS that fails as "SELECT 1 FROM word"), MySQL 8.0's reserved words, and H2 2.x's
     * keywords.
     */
    private static final Set<String> RESERVED_WORDS = Set.of((""
            + "ACCESSIBLE ADD ALL ALTER ANALYSE ANALYZE AND ANY ARRAY AS ASC ASENSITIVE ASYMMETRIC AUTHORIZATION BEFORE "
            + "BETWEEN BIGINT BINARY BLOB BOTH BY CALL CASCADE CASE CAST CHANGE CHAR CHARACTER CHECK COLLATE COLLATION "
            + "COLUMN CONCURRENTLY CONDITION CONSTRAINT CONTINUE CONVERT CREATE CROSS CUBE CUME_DIST CURRENT_CATALOG "
            + "CURRENT_DATE CURRENT_PATH CURRENT_ROLE CURRENT_SCHEMA CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR "
            + "DATABASE DATABASES DAY DAY_HOUR DAY_MICROSECOND DAY_MINUTE DAY_SECOND DEC DECIMAL DECLARE DEFAULT "
            + "DEFERRABLE DELAYED DELETE DELETE_DOMAIN_ID DENSE_RANK DESC DESCRIBE DETERMINISTIC DISTINCT DISTINCTROW "
            + "DIV DO DOUBLE DO_DOMAIN_IDS DROP DUAL EACH ELSE ELSEIF EMPTY ENCLOSED END ESCAPED EXCEPT EXISTS EXIT "
            + "EXPLAIN FALSE FETCH FIRST_VALUE FLOAT FLOAT4 FLOAT8 FOR FORCE FOREIGN FREEZE FROM FULL FULLTEXT FUNCTION "
            + "GENERATED GET GRANT GROUP GROUPING GROUPS HAVING HIGH_PRIORITY HOUR HOUR_MICROSECOND HOUR_MINUTE "
            + "HOUR_SECOND IF IGNORE IGNORE_DOMAIN_IDS ILIKE IN INDEX INFILE INITIALLY INNER INOUT INSENSITIVE INSERT "
            + "INT INT1 INT2 INT3 INT4 INT8 INTEGER INTERSECT INTERVAL INTO IO_AFTER_GTIDS IO_BEFORE_GTIDS IS ISNULL "
            + "ITERATE JOIN JSON_TABLE KEY KEYS KILL LAG LAST_VALUE LATERAL LEAD LEADING LEAVE LEFT LIKE LIMIT LINEAR "
            + "LINES LOAD LOCALTIME LOCALTIMESTAMP LOCK LONG LONGBLOB LONGTEXT LOOP LOW_PRIORITY MANUAL MASTER_BIND "
            + "MASTER_DEMOTE_TO_REPLICA MASTER_DEMOTE_TO_SLAVE MASTER_SSL_VERIFY_SERVER_CERT MATCH MAXVALUE MEDIUMBLOB "
            + "MEDIUMINT MEDIUMTEXT MIDDLEINT MINUS MINUTE MINUTE_MICROSECOND MINUTE_SECOND MOD MODIFIES MONTH NATURAL "
            + "NOT NOTNULL NO_WRITE_TO_BINLOG NTH_VALUE NTILE NULL NUMERIC OF OFFSET ON ONLY OPTIMIZE OPTIMIZER_COSTS "
            + "OPTION OPTIONALLY OR ORDER OUT OUTER OUTFILE OVER OVERLAPS PAGE_CHECKSUM PARALLEL PARSE_VCOL_EXPR "
            + "PARTITION PERCENT_RANK PLACING PORTION PRECISION PRIMARY PROCEDURE PURGE QUALIFY RANGE RANK READ READS "
            + "READ_WRITE REAL RECURSIVE REFERENCES REF_SYSTEM_ID REGEXP RELEASE RENAME REPEAT REPLACE REQUIRE RESIGNAL "
            + "RESTRICT RETURN RETURNING REVOKE RIGHT RLIKE ROW ROWNUM ROWS ROW_NUMBER SCHEMA SCHEMAS SECOND "
            + "SECOND_MICROSECOND SELECT SENSITIVE SEPARATOR SESSION_USER SET SHOW SIGNAL SIMILAR SMALLINT SOME SPATIAL "
            + "SPECIFIC SQL SQLEXCEPTION SQLSTATE SQLWARNING SQL_BIG_RESULT SQL_CALC_FOUND_ROWS SQL_SMALL_RESULT SSL "
            + "STARTING STATS_AUTO_RECALC STATS_PERSISTENT STATS_SAMPLE_PAGES STORED STRAIGHT_JOIN SYMMETRIC SYSTEM "
            + "SYSTEM_USER TABLE TABLESAMPLE TERMINATED THEN TINYBLOB TINYINT TINYTEXT TO TOP TRAILING TRIGGER TRUE "
            + "UESCAPE UNDO UNION UNIQUE UNKNOWN UNLOCK UNSIGNED UPDATE USAGE USE USER USING UTC_DATE UTC_TIME "
            + "UTC_TIMESTAMP VALUE VALUES VARBINARY VARCHAR VARCHARACTER VARIADIC VARYING VERBOSE VIRTUAL WHEN WHERE "
            + "WHILE WINDOW WITH WRITE XOR YEAR YEAR_MONTH ZEROFILL _ROWID_ ").trim().split(" "));

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
