package dev.oncely.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

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
}
