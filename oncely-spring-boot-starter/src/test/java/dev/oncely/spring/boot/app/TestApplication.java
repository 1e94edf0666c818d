package dev.oncely.spring.boot.app;

import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The application under test: a JPA entity and repository, JdbcTemplate, and an @Idempotent service. */
@SpringBootApplication
public class TestApplication {
}
