-- Oncely: the dedup table for PostgreSQL (9.5 or later; tested on 15).
-- Apply it with psql, your migration tool (Flyway, Liquibase), or JdbcDedupStore#createSchemaIfMissing().
-- To use another table or schema name, replace processed_events everywhere below, constraint and index names
-- included, and pass the same names to JdbcDedupStore.Builder#table / #schema.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     varchar(100) NOT NULL,
    event_id     varchar(255) NOT NULL,
    processed_at timestamptz  NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    fingerprint  varchar(64),
    result       bytea,
    -- Lease mode (LeasedHandler) only; NULL for in-transaction claims. See docs/external-effects.md.
    state        varchar(11),
    lease_token  varchar(36),
    attempt      integer,
    lease_until  bigint,
    steps        bytea,
    last_error   varchar(255),
    CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_id)
);

-- Lets the purge find expired keys without scanning the table.
CREATE INDEX IF NOT EXISTS processed_events_expires_at_idx
    ON processed_events (expires_at) WHERE expires_at IS NOT NULL;
