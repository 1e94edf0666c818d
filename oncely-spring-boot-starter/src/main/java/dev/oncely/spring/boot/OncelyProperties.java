package dev.oncely.spring.boot;

import dev.oncely.jdbc.Database;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/** Oncely's settings in a Spring Boot application ({@code oncely.*}); docs/spring.md lists them. */
@ConfigurationProperties("oncely")
public class OncelyProperties {

    /** The table claims are written to. Letters, digits and underscores; not a reserved word. */
    private String table = "processed_events";

    /** The table's schema. Default: the connection's search path (PostgreSQL) or database (MariaDB). */
    private String schema;

    /** The database the SQL is written for. Default: detected from the DataSource's product name. */
    private Database database;

    /**
     * How long claims of @Idempotent methods that name no retention are kept (at least a minute). Default: forever
     * (no purge ever deletes them).
     */
    private Duration retention;

    /**
     * Whether to create the table and its index at startup if they are missing. Default false: apply the DDL with
     * your migration tool (Flyway, Liquibase); the DDL is JdbcDedupStore#ddl() and the shipped resources.
     */
    private boolean createSchema;

    /**
     * How many times a transaction the store began itself is re-run after a serialization failure or deadlock. A
     * transaction the claim joins (yours, e.g. @Transactional) is never re-run. 0 to 100, default 5.
     */
    private int maxRetries = 5;

    private final Purger purger = new Purger();

    private final Metrics metrics = new Metrics();

    private final Listener kafka = new Listener();

    private final Listener rabbit = new Listener();

    public String getTable() {
        return table;
    }

    public void setTable(String table) {
        this.table = table;
    }

    public String getSchema() {
        return schema;
    }

    public void setSchema(String schema) {
        this.schema = schema;
    }

    public Database getDatabase() {
        return database;
    }

    public void setDatabase(Database database) {
        this.database = database;
    }

    public Duration getRetention() {
        return retention;
    }

    public void setRetention(Duration retention) {
        this.retention = retention;
    }

    public boolean isCreateSchema() {
        return createSchema;
    }

    public void setCreateSchema(boolean createSchema) {
        this.createSchema = createSchema;
    }

    public int getMaxRetries() {
        return maxRetries;
    }

    public void setMaxRetries(int maxRetries) {
        this.maxRetries = maxRetries;
    }

    public Purger getPurger() {
        return purger;
    }

    public Metrics getMetrics() {
        return metrics;
    }

    /** Oncely's Micrometer meters ({@code oncely.metrics.*}). */
    public static class Metrics {

        /**
         * Whether to register OncelyMetrics (oncely.messages, oncely.claim.duration, oncely.handler.duration, purge
         * meters, and an observation per call) when Micrometer is on the classpath and a MeterRegistry bean exists.
         */
        private boolean enabled = true;

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }
    }

    /** Spring Kafka listeners: the error handler the starter gives {@code @KafkaListener} containers. */
    public Listener getKafka() {
        return kafka;
    }

    /** Spring AMQP listeners: the error handler the starter gives {@code @RabbitListener} containers. */
    public Listener getRabbit() {
        return rabbit;
    }

    /** The error handler of a broker's listener containers. */
    public static class Listener {

        /**
         * Whether to configure Oncely's error handler for the listener containers (when the broker's Spring
         * library is present and you have no error handler of your own).
         */
        private boolean errorHandler = true;

        /** Pause between attempts after a store failure (database away, commit outcome unknown). */
        private Duration storeRetryDelay = Duration.ofSeconds(1);

        public boolean isErrorHandler() {
            return errorHandler;
        }

        public void setErrorHandler(boolean errorHandler) {
            this.errorHandler = errorHandler;
        }

        public Duration getStoreRetryDelay() {
            return storeRetryDelay;
        }

        public void setStoreRetryDelay(Duration storeRetryDelay) {
            this.storeRetryDelay = storeRetryDelay;
        }
    }

    /** The background purger of expired claims ({@code oncely.purger.*}). */
    public static class Purger {

        /** Whether to run the retention purger in the background while the application runs. Default false. */
        private boolean enabled;

        /** How long to sleep after a run before the next. */
        private Duration interval = Duration.ofMinutes(5);

        /** The most keys one chunk deletes (1 to 100000). */
        private int chunkSize = 1_000;

        /** The pause between two chunks of one run. */
        private Duration pauseBetweenChunks = Duration.ofMillis(100);

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public Duration getInterval() {
            return interval;
        }

        public void setInterval(Duration interval) {
            this.interval = interval;
        }

        public int getChunkSize() {
            return chunkSize;
        }

        public void setChunkSize(int chunkSize) {
            this.chunkSize = chunkSize;
        }

        public Duration getPauseBetweenChunks() {
            return pauseBetweenChunks;
        }

        public void setPauseBetweenChunks(Duration pauseBetweenChunks) {
            this.pauseBetweenChunks = pauseBetweenChunks;
        }
    }
}
