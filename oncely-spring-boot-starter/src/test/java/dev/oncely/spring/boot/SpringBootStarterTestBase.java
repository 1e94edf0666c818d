package dev.oncely.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.DedupStore;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.micrometer.OncelyMetrics;
import dev.oncely.spring.IdempotentAdvisor;
import dev.oncely.spring.SpringConnectionOwner;
import dev.oncely.spring.boot.app.Checkout;
import dev.oncely.spring.boot.app.PaymentService;
import dev.oncely.spring.boot.app.PaymentService.ChargeEvent;
import dev.oncely.spring.boot.app.TestApplication;
import dev.oncely.testdatabases.TestDatabase;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.UnexpectedRollbackException;

/**
 * The starter in a real Spring Boot application with JPA (JpaTransactionManager) on a real database: the claim,
 * a JPA repository's writes and JdbcTemplate's writes in one @Transactional method commit or roll back together.
 * Counts always come from the database.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SpringBootStarterTestBase {

    abstract TestDatabase database();

    private ConfigurableApplicationContext context;
    private JdbcTemplate jdbc;
    private PaymentService service;

    @BeforeAll
    void start() {
        TestDatabase db = database();
        context = new SpringApplicationBuilder(TestApplication.class)
                .web(WebApplicationType.NONE)
                .properties(
                        "spring.datasource.url=" + db.jdbcUrl(),
                        "spring.datasource.username=" + db.user(),
                        "spring.datasource.password=" + db.password(),
                        "spring.datasource.hikari.maximum-pool-size=24",
                        "spring.jpa.hibernate.ddl-auto=update",
                        "spring.jpa.open-in-view=false",
                        "oncely.table=boot_claims",
                        "oncely.create-schema=true",
                        "oncely.retention=7d",
                        "oncely.purger.enabled=true",
                        "oncely.purger.interval=1h")
                .run();
        jdbc = context.getBean(JdbcTemplate.class);
        jdbc.execute("CREATE TABLE IF NOT EXISTS boot_ledger (event_id varchar(100) NOT NULL, amount bigint NOT NULL)");
        service = context.getBean(PaymentService.class);
    }

    @AfterAll
    void stop() {
        if (context != null) {
            context.close();
        }
    }

    @BeforeEach
    void clean() {
        jdbc.update("DELETE FROM boot_claims");
        jdbc.update("DELETE FROM boot_payments");
        jdbc.update("DELETE FROM boot_ledger");
    }

    @Test
    void theStoreIsBuiltOnTheApplicationsDataSourceInJpasTransactions() {
        JdbcDedupStore store = context.getBean(JdbcDedupStore.class);
        assertThat(store.tableName()).endsWith("boot_claims");
        assertThat(store.connections()).isInstanceOf(SpringConnectionOwner.class);
        assertThat(context.getBean(PlatformTransactionManager.class)).isInstanceOf(JpaTransactionManager.class);
    }

    @Test
    void jpaAndJdbcTemplateWritesCommitOnceWithTheClaim() {
        service.charge(new ChargeEvent("c-1", 100, null));
        service.charge(new ChargeEvent("c-1", 100, null));

        assertThat(count("boot_payments")).isEqualTo(1);
        assertThat(count("boot_ledger")).isEqualTo(1);
        assertThat(count("boot_claims")).isEqualTo(1);
    }

    @Test
    void aMethodThatThrowsRollsBackTheClaimAndTheJpaAndJdbcWrites() {
        IllegalStateException boom = new IllegalStateException("card declined");
        assertThatThrownBy(() -> service.charge(new ChargeEvent("c-2", 50, boom))).isSameAs(boom);
        assertThat(count("boot_payments")).isZero();
        assertThat(count("boot_ledger")).isZero();
        assertThat(count("boot_claims")).isZero();

        service.charge(new ChargeEvent("c-2", 50, null));
        assertThat(count("boot_payments")).isEqualTo(1);
        assertThat(count("boot_claims")).isEqualTo(1);
    }

    @Test
    void aFailureCaughtInsideTheJpaTransactionStillRollsBackTheClaimAndTheWrites() {
        Checkout checkout = context.getBean(Checkout.class);
        assertThatThrownBy(() -> checkout.chargeAndSwallowFailure(
                new ChargeEvent("c-4", 5, new IllegalStateException("declined"))))
                .isInstanceOf(UnexpectedRollbackException.class);
        assertThat(count("boot_payments")).isZero();
        assertThat(count("boot_ledger")).isZero();
        assertThat(count("boot_claims")).isZero();
    }

    @Test
    void theClaimRunsInsideTheTransactionalMethodsTransaction() {
        assertThat(service.charge(new ChargeEvent("c-3", 1, null)))
                .as("the transaction was begun by @Transactional, not by the claim")
                .endsWith("PaymentService.charge");
    }

    @Test
    void aConcurrentDuplicateStormThroughTheAnnotationChargesEachEventOnce() throws Exception {
        int keys = 100;
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int d = 0; d < 3; d++) {
                for (int k = 0; k < keys; k++) {
                    ChargeEvent event = new ChargeEvent("storm-" + k, k, null);
                    futures.add(pool.submit(() -> {
                        start.await();
                        deliver(event);
                        return null;
                    }));
                }
            }
            for (int t = 0; t < 24; t++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    deliver(new ChargeEvent("storm-hot", 7, null));
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(count("boot_payments")).isEqualTo(keys + 1L);
        assertThat(count("boot_ledger")).isEqualTo(keys + 1L);
        assertThat(count("boot_claims")).isEqualTo(keys + 1L);
    }

    @Test
    void theRetentionPurgerRunsAsALifecycleBeanAndTheHealthReportsTableAndPurger() {
        RetentionPurgerLifecycle purger = context.getBean(RetentionPurgerLifecycle.class);
        assertThat(purger.isRunning()).isTrue();
        assertThat(purger.purger().isRunning()).isTrue();

        HealthIndicator health = context.getBean("oncelyHealthIndicator", HealthIndicator.class);
        assertThat(health.health().getStatus()).isEqualTo(Status.UP);
        assertThat(health.health().getDetails()).containsEntry("purger.running", true)
                .containsKey("table");
    }

    @Test
    void anIdempotentCallCountsAsProcessedAndItsDuplicateAsDuplicate() {
        MeterRegistry meters = context.getBean(MeterRegistry.class);
        double processed = messages(meters, "processed");
        double duplicates = messages(meters, "duplicate");
        double failed = messages(meters, "failed");

        service.charge(new ChargeEvent("m-1", 10, null));
        service.charge(new ChargeEvent("m-1", 10, null));
        assertThatThrownBy(() -> service.charge(new ChargeEvent("m-2", 10, new IllegalStateException("declined"))))
                .isInstanceOf(IllegalStateException.class);

        assertThat(messages(meters, "processed") - processed).isEqualTo(1);
        assertThat(messages(meters, "duplicate") - duplicates).isEqualTo(1);
        assertThat(messages(meters, "failed") - failed).isEqualTo(1);
        assertThat(meters.get(OncelyMetrics.CLAIM_DURATION).tag("consumer", "boot-billing").timer().count())
                .isPositive();
        assertThat(count("boot_claims")).as("from the database").isEqualTo(1);
        assertThat(count("boot_payments")).isEqualTo(1);
    }

    @Test
    void thePurgerReportsItsRunsToTheMeters() {
        MeterRegistry meters = context.getBean(MeterRegistry.class);
        Timer runs = meters.get(OncelyMetrics.PURGE_DURATION).tag("outcome", "success").timer();
        long before = runs.count();

        context.getBean(RetentionPurgerLifecycle.class).purger().purgeNow();

        assertThat(runs.count()).isGreaterThanOrEqualTo(before + 1);
    }

    @Test
    void theAdvisorAndTheStoreAreSingleBeansOfTheirTypes() {
        assertThat(context.getBeansOfType(DedupStore.class)).hasSize(1);
        assertThat(context.getBeansOfType(IdempotentAdvisor.class)).hasSize(1);
    }

    /** As a broker would: a transient failure in the joined transaction (not retried by the store) is redelivered. */
    private void deliver(ChargeEvent event) {
        for (int attempt = 1; ; attempt++) {
            try {
                service.charge(event);
                return;
            } catch (TransientStoreException e) {
                if (attempt == 20) {
                    throw e;
                }
            }
        }
    }

    private static double messages(MeterRegistry meters, String outcome) {
        return meters.find(OncelyMetrics.MESSAGES).tags("consumer", "boot-billing", "outcome", outcome).counters()
                .stream().mapToDouble(Counter::count).sum();
    }

    private long count(String table) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + table, Long.class);
    }
}
