-- Oncely: the dedup table for H2 (2.x; tested on 2.5.252), embedded, file or in-memory.
-- Apply it with your migration tool (Flyway, Liquibase) or JdbcDedupStore#createSchemaIfMissing().
-- To use another table or schema name, replace processed_events everywhere below, constraint and index names
-- included, and pass the same names to JdbcDedupStore.Builder#table / #schema.
-- event_id is 510 characters: H2 counts UTF-16 units, and a key is up to 255 code points (each up to 2 units).
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     varchar(200) NOT NULL,
    event_id     varchar(510) NOT NULL,
    processed_at timestamp(6) with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at   timestamp(6) with time zone,
    fingerprint  varchar(64),
    result       varbinary,
    -- Lease mode (LeasedHandler) only; NULL for in-transaction claims. See docs/external-effects.md.
    state        varchar(11),
    lease_token  varchar(36),
    attempt      integer,
    lease_until  bigint,
    steps        varbinary,
    last_error   varchar(255),
    CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_id)
);

-- Lets the purge find expired keys without scanning the table.
CREATE INDEX IF NOT EXISTS processed_events_expires_at_idx ON processed_events (expires_at);
