package dev.oncely.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.OncelyException;
import org.junit.jupiter.api.Test;

class JdbcDialectTest {

    @Test
    void productNamesAsTheDriversReportThemMapToTheirDialects() {
        assertThat(JdbcDialect.forProductName("PostgreSQL")).contains(JdbcDialect.POSTGRESQL);
        assertThat(JdbcDialect.forProductName("MariaDB")).contains(JdbcDialect.MARIADB);
        assertThat(JdbcDialect.forProductName("MySQL")).contains(JdbcDialect.MYSQL);
        assertThat(JdbcDialect.forProductName("H2")).contains(JdbcDialect.H2);
        assertThat(JdbcDialect.forProductName(" mariadb ")).contains(JdbcDialect.MARIADB);
    }

    @Test
    void unknownProductsHaveNoDialectAndGenericIsNeverDetected() {
        assertThat(JdbcDialect.forProductName("Oracle")).isEmpty();
        assertThat(JdbcDialect.forProductName("HSQL Database Engine")).isEmpty();
        assertThat(JdbcDialect.forProductName("Generic JDBC")).isEmpty();
        assertThat(JdbcDialect.forProductName(null)).isEmpty();
    }

    @Test
    void anUnknownProductFailsWithAMessageNamingTheOverride() {
        assertThatThrownBy(() -> JdbcDialect.detect("Apache Derby"))
                .isInstanceOf(OncelyException.class)
                .hasMessageContaining("'Apache Derby'")
                .hasMessageContaining(".dialect(...)")
                .hasMessageContaining(".dialect(JdbcDialect.GENERIC)");
        assertThat(JdbcDialect.detect("MariaDB")).isEqualTo(JdbcDialect.MARIADB);
    }
}
