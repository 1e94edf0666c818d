package dev.oncely.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TableNameTest {

    private static final String DDL = "CREATE TABLE processed_events (x int, CONSTRAINT processed_events_pkey"
            + " PRIMARY KEY (x));\nCREATE INDEX processed_events_expires_at_idx ON processed_events (x);";

    @Test
    void theDefaultNameInASchemaQualifiesOnlyTheTable() {
        assertThat(new TableName(Optional.of("app"), "processed_events").render(DDL)).isEqualTo(
                "CREATE TABLE app.processed_events (x int, CONSTRAINT processed_events_pkey PRIMARY KEY (x));\n"
                        + "CREATE INDEX processed_events_expires_at_idx ON app.processed_events (x);");
    }

    @Test
    void aCustomNameRenamesTheTableAndItsObjects() {
        assertThat(new TableName(Optional.empty(), "billing_claims").render(DDL)).isEqualTo(
                "CREATE TABLE billing_claims (x int, CONSTRAINT billing_claims_pkey PRIMARY KEY (x));\n"
                        + "CREATE INDEX billing_claims_expires_at_idx ON billing_claims (x);");
        assertThat(new TableName(Optional.of("s"), "t").render(DDL)).contains("CREATE TABLE s.t (")
                .contains("CONSTRAINT t_pkey").contains("INDEX t_expires_at_idx ON s.t (x)");
    }

    @Test
    void aNameThatContainsTheDefaultNameIsNotRenamedTwice() {
        assertThat(new TableName(Optional.empty(), "bench_processed_events").render(DDL)).isEqualTo(
                "CREATE TABLE bench_processed_events (x int, CONSTRAINT bench_processed_events_pkey PRIMARY KEY (x));\n"
                        + "CREATE INDEX bench_processed_events_expires_at_idx ON bench_processed_events (x);");
    }

    @ParameterizedTest
    @ValueSource(strings = {"select", "SELECT", "order", "user", "table", "key",
            "window", "returning", "limit", "value", "interval", "analyse", "minus", "rownum"})
    void aReservedWordOfAnySupportedDatabaseIsRejectedAsTableOrSchemaName(String word) {
        assertThatThrownBy(() -> new TableName(Optional.empty(), word))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Table name '" + word + "' is a reserved word")
                .hasMessageContaining("Choose a name that is not a keyword, e.g. '" + word.toLowerCase(java.util.Locale.ROOT) + "_events'");
        assertThatThrownBy(() -> new TableName(Optional.of(word), "processed_events"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Schema name '" + word + "' is a reserved word");
    }

    @Test
    void namesThatOnlyContainAReservedWordAreAccepted() {
        assertThat(new TableName(Optional.of("app"), "select_events").qualified()).isEqualTo("app.select_events");
        assertThat(new TableName(Optional.empty(), "orders").qualified()).isEqualTo("orders");
        assertThat(new TableName(Optional.empty(), "events").qualified()).isEqualTo("events");
    }
}
