package dev.oncely.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.spring.SpringConnectionOwner;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.transaction.support.TransactionSynchronizationManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The filter on a store whose transactions are Spring's ({@link SpringConnectionOwner}): the filter begins the
 * transaction through the transaction manager, and a service's {@code TransactionTemplate} (what
 * {@code @Transactional} does, propagation REQUIRED) and {@code JdbcTemplate} join it, on the same connection.
 */
class SpringTransactionsTest {

    @AfterAll
    static void closePools() {
        TestDbs.closeAll();
    }

    /** A controller-like servlet calling a transactional service that writes with JdbcTemplate. */
    static final class ServiceServlet extends HttpServlet {
        private final DataSource dataSource;
        private final TransactionTemplate transactional;
        private final JdbcTemplate jdbc;
        private final String run;

        ServiceServlet(DataSource dataSource, DataSourceTransactionManager manager, String run) {
            this.dataSource = dataSource;
            this.transactional = new TransactionTemplate(manager);
            this.jdbc = new JdbcTemplate(dataSource);
            this.run = run;
        }

        @Override
        protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException, ServletException {
            String id = UUID.randomUUID().toString();
            if (req.getHeader("X-Service-Fails") != null) {
                try {
                    transactional.executeWithoutResult(status -> {
                        jdbc.update("INSERT INTO http_effects (id, run, path, client, body) VALUES (?, ?, ?, ?, ?)",
                                id, run, "/spring", req.getHeader("X-Api-Key"), "");
                        throw new IllegalStateException("the service failed");
                    });
                } catch (IllegalStateException e) {
                    // What an @ExceptionHandler does: the failure becomes a 500 response.
                    resp.setStatus(500);
                    resp.setContentType("text/plain");
                    resp.getWriter().write("handled: " + e.getMessage());
                    return;
                }
            }
            boolean sameConnection = transactional.execute(status -> {
                jdbc.update("INSERT INTO http_effects (id, run, path, client, body) VALUES (?, ?, ?, ?, ?)", id, run,
                        "/spring", req.getHeader("X-Api-Key"), "");
                return DataSourceUtils.getConnection(dataSource) == IdempotencyContext.connection(req)
                        && !status.isNewTransaction();
            });
            if (req.getHeader("X-Fail") != null) {
                throw new ServletException("failing after the service committed its part");
            }
            resp.setContentType("text/plain");
            resp.getWriter().write("charge " + id + ", joined the filter's transaction: " + sameConnection
                    + ", active: " + TransactionSynchronizationManager.isActualTransactionActive());
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aTransactionalServiceJoinsTheFiltersTransactionSoItsWriteHappensOncePerKey(TestDbs db) throws Exception {
        String consumer = "http-spring-" + UUID.randomUUID().toString().substring(0, 8);
        DataSource pool = db.pool();
        db.store(); // creates the dedup table if missing
        DataSourceTransactionManager manager = new DataSourceTransactionManager(pool);
        JdbcDedupStore springStore = SpringConnectionOwner.storeBuilder(pool, manager).build();
        IdempotencyFilter filter = IdempotencyFilter.inTransaction(springStore).consumer(consumer)
                .clients(ClientIdentifier.header("X-Api-Key")).build();
        try (TestServer server = new TestServer(filter, new ServiceServlet(pool, manager, consumer))) {
            String key = "\"" + UUID.randomUUID() + "\"";
            List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                futures.add(TestServer.CLIENT.sendAsync(server.post("/spring", "")
                        .header("Idempotency-Key", key).header("X-Api-Key", "client-a").build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            List<String> bodies = new ArrayList<>();
            for (CompletableFuture<HttpResponse<String>> f : futures) {
                HttpResponse<String> r = f.get();
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                bodies.add(r.body());
            }
            assertThat(bodies).allMatch(b -> b.equals(bodies.get(0)));
            assertThat(bodies.get(0)).endsWith("joined the filter's transaction: true, active: true");
            assertThat(db.effects(consumer)).isEqualTo(1);

            // An exception after the service's part rolls back that part too: it was the filter's transaction.
            HttpResponse<String> failed = TestServer.send(server.post("/spring", "")
                    .header("Idempotency-Key", "\"" + UUID.randomUUID() + "\"").header("X-Api-Key", "client-a")
                    .header("X-Fail", "yes"));
            assertThat(failed.statusCode()).isEqualTo(500);
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDbs.class)
    void aServiceFailureTurnedIntoA5xxMarksTheTransactionRollbackOnlySoNothingCommitsAndTheClientMayRetry(TestDbs db) {
        String consumer = "http-spring-" + UUID.randomUUID().toString().substring(0, 8);
        DataSource pool = db.pool();
        db.store();
        DataSourceTransactionManager manager = new DataSourceTransactionManager(pool);
        IdempotencyFilter filter = IdempotencyFilter.inTransaction(SpringConnectionOwner.storeBuilder(pool, manager)
                .build()).consumer(consumer).clients(ClientIdentifier.header("X-Api-Key")).build();
        try (TestServer server = new TestServer(filter, new ServiceServlet(pool, manager, consumer))) {
            String key = "\"" + UUID.randomUUID() + "\"";
            HttpResponse<String> failed = TestServer.send(server.post("/spring", "")
                    .header("Idempotency-Key", key).header("X-Api-Key", "client-a").header("X-Service-Fails", "yes"));
            assertThat(failed.statusCode()).isEqualTo(503);
            assertThat(failed.headers().firstValue("Content-Type")).hasValue("application/problem+json");
            assertThat(failed.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(failed.body()).contains("idempotency-outcome-unknown").contains("rollback-only")
                    .doesNotContain("handled: the service failed");
            assertThat(db.effects(consumer)).isZero();

            HttpResponse<String> retry = TestServer.send(server.post("/spring", "")
                    .header("Idempotency-Key", key).header("X-Api-Key", "client-a"));
            assertThat(retry.statusCode()).isEqualTo(200);
            assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
            assertThat(db.effects(consumer)).isEqualTo(1);
        }
    }
}
