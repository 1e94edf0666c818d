package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.OncelyException;
import org.junit.jupiter.api.Test;

class JdbcDialectTest {

    @Test
    void productNamesAsTheDriversReportThemMapToTheirDialects() {
        assertThat(Database.forProductName("PostgreSQL")).contains(Database.POSTGRESQL);
        assertThat(Database.forProductName("MariaDB")).contains(Database.MARIADB);
        assertThat(Database.forProductName("MySQL")).contains(Database.MYSQL);
        assertThat(Database.forProductName("H2")).contains(Database.H2);
        assertThat(Database.forProductName(" mariadb ")).contains(Database.MARIADB);
    }

    @Test
    void unknownProductsHaveNoDialectAndGenericIsNeverDetected() {
        assertThat(Database.forProductName("Oracle")).isEmpty();
        assertThat(Database.forProductName("HSQL Database Engine")).isEmpty();
        assertThat(Database.forProductName("Generic JDBC")).isEmpty();
        assertThat(Database.forProductName(null)).isEmpty();
    }

    @Test
    void anUnknownProductFailsWithAMessageNamingTheOverride() {
        assertThatThrownBy(() -> Database.detect("Apache Derby"))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("'Apache Derby'")
                .hasMessageContaining(".database(...)")
                .hasMessageContaining(".database(Database.GENERIC)");
        assertThat(Database.detect("MariaDB")).isEqualTo(Database.MARIADB);
    }
}
