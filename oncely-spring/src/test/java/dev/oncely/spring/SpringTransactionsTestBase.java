package dev.oncely.spring;

import static dev.oncely.spring.SpringTestApps.pool;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.InvalidMessageException;
import dev.oncely.MisconfigurationException;
import dev.oncely.ResultCodec;
import dev.oncely.TransientStoreException;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.testdatabases.TestDatabase;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.dao.ConcurrencyFailureException;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.UnexpectedRollbackException;
import org.springframework.transaction.annotation.EnableTransactionManagement;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * A real Spring application context (JdbcTransactionManager, JdbcTemplate, @Transactional, @EnableIdempotent) on a
 * real database: the claim and the JdbcTemplate writes commit or roll back together. Counts always come from the
 * database.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SpringTransactionsTestBase {

    static final String CLAIMS = "spring_claims";
    static final String PAYMENTS = "spring_payments";

    /** The database of the subclass. */
    abstract TestDatabase database();

    private AnnotationConfigApplicationContext context;
    private JdbcTemplate jdbc;
    private Payments payments;
    private Checkout checkout;

    @BeforeEach
    void startOnce() {
        if (context == null) {
            context = SpringTestApps.start(Config.class, database(), Map.of());
            jdbc = context.getBean(JdbcTemplate.class);
            payments = context.getBean(Payments.class);
            checkout = context.getBean(Checkout.class);
        }
        jdbc.update("DELETE FROM " + CLAIMS);
        jdbc.update("DELETE FROM " + PAYMENTS);
    }

    @AfterAll
    void stop() {
        if (context != null) {
            context.close();
        }
    }

    @Test
    void aDuplicateCallRunsTheMethodOnceAndWritesOnce() {
        payments.pay(new Event("e-1", false));
        payments.pay(new Event("e-1", false));

        assertThat(paymentsOf("e-1")).isEqualTo(1);
        assertThat(claims()).isEqualTo(1);
    }

    @Test
    void aMethodThatThrowsRollsBackTheClaimAndItsWritesAndTheSameExceptionReachesTheCaller() {
        IllegalStateException boom = new IllegalStateException("boom");
        assertThatThrownBy(() -> payments.pay(new Event("e-2", boom))).isSameAs(boom);
        assertThat(paymentsOf("e-2")).isZero();
        assertThat(claims()).isZero();

        payments.pay(new Event("e-2", false)); // the redelivery runs it
        assertThat(paymentsOf("e-2")).isEqualTo(1);
    }

    @Test
    void withoutTransactionalTheClaimBeginsATransactionThatTheJdbcTemplateWritesJoin() {
        IllegalStateException boom = new IllegalStateException("boom");
        assertThatThrownBy(() -> payments.payWithoutTransactional(new Event("e-3", boom))).isSameAs(boom);
        assertThat(paymentsOf("e-3")).as("the write before the failure rolled back with the claim").isZero();
        assertThat(claims()).isZero();

        payments.payWithoutTransactional(new Event("e-3", false));
        payments.payWithoutTransactional(new Event("e-3", false));
        assertThat(paymentsOf("e-3")).isEqualTo(1);
        assertThat(claims()).isEqualTo(1);
    }

    @Test
    void theFirstReturnValueIsReplayedToDuplicates() {
        assertThat(payments.receipt(new Event("e-4", false))).isEqualTo("receipt-1");
        assertThat(payments.receipt(new Event("e-4", false))).isEqualTo("receipt-1");
        assertThat(paymentsOf("e-4")).isEqualTo(1);
    }

    @Test
    void aSerializationFailureInATransactionTheClaimBeganIsRetriedWholeAndTheMethodRunsAgain() {
        payments.failuresLeft().set(1);
        payments.invocations().set(0);
        payments.payWithoutTransactionalFailingToSerialize(new Event("r-1", false));

        assertThat(payments.invocations().get()).isEqualTo(2);
        assertThat(paymentsOf("r-1")).as("the first attempt's write rolled back").isEqualTo(1);
        assertThat(claims()).isEqualTo(1);
    }

    @Test
    void aSerializationFailureInTheJoinedTransactionIsNotRetriedAndReachesTheCaller() {
        payments.failuresLeft().set(1);
        payments.invocations().set(0);
        assertThatThrownBy(() -> payments.payFailingToSerialize(new Event("r-2", false)))
                .isSameAs(payments.serializationFailure());

        assertThat(payments.invocations().get()).as("Spring's transaction is not Oncely's to re-run").isEqualTo(1);
        assertThat(paymentsOf("r-2")).isZero();
        assertThat(claims()).isZero();
    }

    @Test
    void aHandlerFailureCaughtInsideTheTransactionStillRollsItBack() {
        assertThatThrownBy(() -> checkout.payAndSwallowFailure(new Event("e-5", new IllegalStateException("x"))))
                .isInstanceOf(UnexpectedRollbackException.class);
        assertThat(paymentsOf("e-5")).as("the write before the failure").isZero();
        assertThat(paymentsOf("after-e-5")).isZero();
        assertThat(claims()).isZero();
    }

    @Test
    void aProgrammaticHandlerJoinsATransactionTemplateAndRollsBackWithIt() {
        IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(
                        context.getBean(DedupStore.class))
                .consumer("programmatic").key(k -> k)
                .handler((k, ctx) -> {
                    jdbc.update("INSERT INTO " + PAYMENTS + " (event_id, consumer) VALUES (?, 'programmatic')", k);
                    return null;
                })
                .build();
        TransactionTemplate template = new TransactionTemplate(context.getBean(PlatformTransactionManager.class));
        template.executeWithoutResult(status -> {
            process(handler, "p-1");
            status.setRollbackOnly();
        });
        assertThat(paymentsOf("p-1")).isZero();
        assertThat(claims()).isZero();

        template.executeWithoutResult(status -> process(handler, "p-1"));
        template.executeWithoutResult(status -> assertThat(process(handler, "p-1").isDuplicate()).isTrue());
        assertThat(paymentsOf("p-1")).isEqualTo(1);
        assertThat(claims()).isEqualTo(1);
    }

    @Test
    void aClaimInATransactionOnAnotherDataSourceIsRefused() {
        try (HikariDataSource other = pool(database(), 2)) {
            TransactionTemplate elsewhere = new TransactionTemplate(new JdbcTransactionManager(other));
            // No @Transactional of its own: the only transaction active is the other DataSource's.
            assertThatThrownBy(() -> elsewhere.executeWithoutResult(
                    status -> payments.payWithoutTransactional(new Event("e-6", false))))
                    .isInstanceOf(MisconfigurationException.class)
                    .hasMessageContaining("not on the DataSource of the Oncely store");
        }
        assertThat(paymentsOf("e-6")).isZero();
        assertThat(claims()).isZero();
    }

    @Test
    void aStoreWhoseTransactionManagerManagesAnotherDataSourceIsRefused() {
        try (HikariDataSource other = pool(database(), 2)) {
            JdbcDedupStore store = SpringConnectionOwner.storeBuilder(context.getBean(DataSource.class),
                    new JdbcTransactionManager(other)).table(CLAIMS).build();
            IdempotentHandler<String, Void, ?> handler = IdempotentHandler.<String, Void>builder(store)
                    .consumer("wrong-manager").key(k -> k).handler((k, ctx) -> null).build();
            assertThatThrownBy(() -> handler.process("w-1"))
                    .isInstanceOf(MisconfigurationException.class)
                    .hasMessageContaining("the transaction manager of its DataSource");
        }
        assertThat(claims()).isZero();
    }

    @Test
    void aConcurrentDuplicateStormThroughTheAnnotationRunsEachKeyOnce() throws Exception {
        int threads = 16;
        int keys = 200;
        int deliveries = 3;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int d = 0; d < deliveries; d++) {
                for (int k = 0; k < keys; k++) {
                    String id = "storm-" + k;
                    futures.add(pool.submit(() -> {
                        start.await();
                        deliver(new Event(id, false));
                        return null;
                    }));
                }
            }
            for (int t = 0; t < 24; t++) { // and one hot key from everyone at once
                futures.add(pool.submit(() -> {
                    start.await();
                    deliver(new Event("storm-hot", false));
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
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + PAYMENTS, Long.class)).isEqualTo(keys + 1L);
        assertThat(jdbc.queryForObject("SELECT COUNT(DISTINCT event_id) FROM " + PAYMENTS, Long.class))
                .isEqualTo(keys + 1L);
        assertThat(claims()).isEqualTo(keys + 1L);
    }

    @Test
    void aBatchMethodClaimsTheBatchOnceAndGetsOnlyItsFreshElements() {
        BatchPayments batch = context.getBean(BatchPayments.class);
        batch.calls().clear();
        batch.pay("first", List.of(new Event("b-1", false), new Event("b-2", false), new Event("b-1", false)));
        batch.pay("second", List.of(new Event("b-2", false), new Event("b-3", false)));
        batch.pay("third", List.of(new Event("b-3", false), new Event("b-1", false)));

        assertThat(batch.calls()).as("repeats within a batch and earlier batches' keys left out; no call when"
                + " every element is a duplicate").containsExactly(List.of("b-1", "b-2"), List.of("b-3"));
        assertThat(jdbc.queryForObject("SELECT COUNT(*) FROM " + PAYMENTS + " WHERE consumer LIKE 'batch-%'",
                Long.class)).isEqualTo(3);
        assertThat(claims()).isEqualTo(3);
    }

    @Test
    void aBatchMethodThatThrowsRollsBackEveryClaimAndWriteOfTheBatch() {
        BatchPayments batch = context.getBean(BatchPayments.class);
        IllegalStateException boom = new IllegalStateException("boom");
        assertThatThrownBy(() -> batch.pay("failing", List.of(new Event("f-1", false), new Event("f-2", boom))))
                .isSameAs(boom);
        assertThat(claims()).isZero();
        assertThat(paymentsOf("f-1")).isZero();

        batch.pay("redelivered", List.of(new Event("f-1", false), new Event("f-2", false)));
        assertThat(paymentsOf("f-1")).isEqualTo(1);
        assertThat(paymentsOf("f-2")).isEqualTo(1);
    }

    @Test
    void aBatchWithAnElementWithoutAKeyIsInvalidAndWritesNothing() {
        BatchPayments batch = context.getBean(BatchPayments.class);
        assertThatThrownBy(() -> batch.pay("invalid", List.of(new Event("i-1", false), new Event(null, false))))
                .isInstanceOf(InvalidMessageException.class);
        assertThat(paymentsOf("i-1")).isZero();
        assertThat(claims()).isZero();
    }

    @Test
    void aBatchMethodThatReturnsAValueIsRefused() {
        BatchPayments batch = context.getBean(BatchPayments.class);
        assertThatThrownBy(() -> batch.returning(List.of(new Event("r-9", false))))
                .isInstanceOf(MisconfigurationException.class).hasMessageContaining("must return void");
        assertThat(claims()).isZero();
    }

    /**
     * As a broker would: a transient failure (a deadlock in the joined transaction, which the store does not retry
     * because Spring owns it) is redelivered.
     */
    private void deliver(Event event) {
        for (int attempt = 1; ; attempt++) {
            try {
                payments.pay(event);
                return;
            } catch (TransientStoreException e) {
                if (attempt == 20) {
                    throw e;
                }
            }
        }
    }

    private static dev.oncely.Outcome<Void> process(IdempotentHandler<String, Void, ?> handler, String key) {
        try {
            return handler.process(key);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private long paymentsOf(String id) {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + PAYMENTS + " WHERE event_id = ?", Long.class, id);
    }

    private long claims() {
        return jdbc.queryForObject("SELECT COUNT(*) FROM " + CLAIMS, Long.class);
    }

    /** A message: its id, and what the method throws after its write (null: nothing). */
    public record Event(String id, RuntimeException failure) {
        Event(String id, boolean fail) {
            this(id, fail ? new IllegalStateException("fail " + id) : null);
        }
    }

    /** The application's service: JdbcTemplate writes in annotated methods. */
    public static class Payments {
        private final JdbcTemplate jdbc;
        private int receipts;

        public Payments(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @Idempotent(consumer = "payments", key = "#event.id")
        @Transactional
        public void pay(Event event) {
            write(event, "payments");
        }

        @Idempotent(consumer = "payments-plain", key = "#p0.id")
        public void payWithoutTransactional(Event event) {
            write(event, "payments-plain");
        }

        /** Throws a serialization failure (SQLState 40001) after its write while {@link #failuresLeft} lasts. */
        @Idempotent(consumer = "payments-retried", key = "#event.id")
        public void payWithoutTransactionalFailingToSerialize(Event event) {
            writeThenFailToSerialize(event, "payments-retried");
        }

        @Idempotent(consumer = "payments-joined", key = "#event.id")
        @Transactional
        public void payFailingToSerialize(Event event) {
            writeThenFailToSerialize(event, "payments-joined");
        }

        private final AtomicInteger failuresLeft = new AtomicInteger();
        private final AtomicInteger invocations = new AtomicInteger();
        private final ConcurrencyFailureException serializationFailure = new ConcurrencyFailureException(
                "could not serialize access", new SQLException("could not serialize access", "40001"));

        // Accessors, not fields: the test holds the CGLIB proxy, whose own fields are unset.
        public AtomicInteger failuresLeft() {
            return failuresLeft;
        }

        public AtomicInteger invocations() {
            return invocations;
        }

        public ConcurrencyFailureException serializationFailure() {
            return serializationFailure;
        }

        private void writeThenFailToSerialize(Event event, String consumer) {
            invocations.incrementAndGet();
            jdbc.update("INSERT INTO " + PAYMENTS + " (event_id, consumer) VALUES (?, ?)", event.id(), consumer);
            if (failuresLeft.getAndDecrement() > 0) {
                throw serializationFailure;
            }
        }

        @Idempotent(consumer = "receipts", key = "#event.id", resultCodec = "utf8Codec")
        @Transactional
        public synchronized String receipt(Event event) {
            write(event, "receipts");
            return "receipt-" + (++receipts);
        }

        private void write(Event event, String consumer) {
            jdbc.update("INSERT INTO " + PAYMENTS + " (event_id, consumer) VALUES (?, ?)", event.id(), consumer);
            if (event.failure() != null) {
                throw event.failure();
            }
        }
    }

    /** An outer transaction that swallows the idempotent method's failure and writes on. */
    public static class Checkout {
        private final Payments payments;
        private final JdbcTemplate jdbc;

        public Checkout(Payments payments, JdbcTemplate jdbc) {
            this.payments = payments;
            this.jdbc = jdbc;
        }

        /**
         * The idempotent method has no @Transactional of its own, so no transaction interceptor marks the shared
         * transaction rollback-only on its way out: only the claim's lease can.
         */
        @Transactional
        public void payAndSwallowFailure(Event event) {
            try {
                payments.payWithoutTransactional(event);
            } catch (IllegalStateException swallowed) {
                jdbc.update("INSERT INTO " + PAYMENTS + " (event_id, consumer) VALUES (?, 'checkout')",
                        "after-" + event.id());
            }
        }
    }

    /** Batch methods: one claim per call, the method called with the fresh events only. */
    public static class BatchPayments {
        private final JdbcTemplate jdbc;
        private final java.util.concurrent.CopyOnWriteArrayList<List<String>> calls =
                new java.util.concurrent.CopyOnWriteArrayList<>();

        public BatchPayments(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        public List<List<String>> calls() {
            return calls;
        }

        @IdempotentBatch(consumer = "batch", key = "#record.id")
        @Transactional
        public void pay(String source, List<Event> events) {
            calls.add(events.stream().map(Event::id).toList());
            jdbc.batchUpdate("INSERT INTO " + PAYMENTS + " (event_id, consumer) VALUES (?, ?)",
                    events.stream().map(e -> new Object[] {e.id(), "batch-" + source}).toList());
            for (Event e : events) {
                if (e.failure() != null) {
                    throw e.failure();
                }
            }
        }

        @IdempotentBatch(consumer = "batch-returning", key = "#record.id")
        public int returning(List<Event> events) {
            return events.size();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableTransactionManagement
    @EnableIdempotent
    static class Config extends JdbcTestAppConfig {
        Config() {
            super(24, CLAIMS);
        }

        @Bean
        @Override
        public JdbcTemplate jdbcTemplate(DataSource dataSource) {
            JdbcTemplate jdbc = new JdbcTemplate(dataSource);
            jdbc.execute("CREATE TABLE IF NOT EXISTS " + PAYMENTS
                    + " (event_id varchar(100) NOT NULL, consumer varchar(100) NOT NULL)");
            return jdbc;
        }

        @Bean
        ResultCodec<String> utf8Codec() {
            return ResultCodec.utf8();
        }

        @Bean
        Payments payments(JdbcTemplate jdbc) {
            return new Payments(jdbc);
        }

        @Bean
        Checkout checkout(Payments payments, JdbcTemplate jdbc) {
            return new Checkout(payments, jdbc);
        }

        @Bean
        BatchPayments batchPayments(JdbcTemplate jdbc) {
            return new BatchPayments(jdbc);
        }
    }
}
