-- Oncely: the dedup table for a database without a dedicated dialect (JdbcDialect.GENERIC), in portable SQL.
-- Tested here on PostgreSQL and H2. Adapt the types to your database if it does not accept these:
--   result: BYTEA is accepted by PostgreSQL and H2; use BLOB, VARBINARY(MAX) or your binary type elsewhere.
--   timestamps: TIMESTAMP WITH TIME ZONE keeps expiry independent of session time zones; where the database has
--   no such type, use TIMESTAMP and run the database session and the JVM in the same time zone (UTC is best).
--   event_id holds up to 255 characters; a database that counts UTF-16 units needs 510.
-- Keys must compare exactly (case- and trailing-space-sensitive): use a binary, no-pad collation if yours
-- folds case. Drop IF NOT EXISTS if your database does not know it.
-- To use another table or schema name, replace processed_events everywhere below, constraint and index names
-- included, and pass the same names to JdbcDedupStore.Builder#table / #schema.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     VARCHAR(200) NOT NULL,
    event_id     VARCHAR(510) NOT NULL,
    processed_at TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at   TIMESTAMP WITH TIME ZONE,
    fingerprint  VARCHAR(64),
    result       BYTEA,
    -- Lease mode (LeasedHandler) only; NULL for in-transaction claims. See docs/external-effects.md.
    state        VARCHAR(11),
    lease_token  VARCHAR(36),
    attempt      INTEGER,
    lease_until  BIGINT,
    steps        BYTEA,
    last_error   VARCHAR(255),
    CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_id)
);

-- Lets the purge find expired keys without scanning the table. If you keep keys forever (no retention, so
-- expires_at is NULL) on a database that indexes NULLs (most do; Oracle does not), index (expires_at, processed_at)
-- instead: rows then go in at the end of the index in claim order rather than at a random page ordered by key,
-- which made MariaDB's claims about a quarter cheaper (docs/benchmarks.md).
CREATE INDEX IF NOT EXISTS processed_events_expires_at_idx ON processed_events (expires_at);
