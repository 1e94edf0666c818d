-- Oncely: the time-partitioned dedup table for PostgreSQL (14 or later; tested on 15).
-- Used with JdbcDedupStore.Builder#timePartitioned(partition, overlap); see docs/retention.md.
-- Apply it with psql, your migration tool, or JdbcDedupStore#createSchemaIfMissing(). The partitions themselves
-- are created ahead of time and dropped once all their keys have expired by JdbcDedupStore#maintainPartitions()
-- (also run by every RetentionPurger run and by createSchemaIfMissing()), so the role that runs it needs to be
-- allowed to create and drop tables in the schema.
-- To use another table or schema name, replace processed_events everywhere below, constraint and index names
-- included, and pass the same names to JdbcDedupStore.Builder#table / #schema.

-- Claims, partitioned by the time they were made. A claim inserts its key into the partition of the current time
-- (and, during the first "overlap" of a partition, into the previous one too); it reads existing keys across all
-- partitions. The bucket column is part of the primary key because PostgreSQL requires the partition key there.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     varchar(100) NOT NULL,
    event_id     varchar(255) NOT NULL,
    bucket       timestamptz  NOT NULL,
    processed_at timestamptz  NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    fingerprint  varchar(64),
    result       bytea,
    CONSTRAINT processed_events_pkey PRIMARY KEY (consumer, event_id, bucket)
) PARTITION BY LIST (bucket);

-- Lets maintenance tell, from the index alone, whether a partition still holds a live or unexpiring key.
CREATE INDEX IF NOT EXISTS processed_events_expires_at_idx ON processed_events (expires_at);

-- One row per partition: claims made at a time t go to every partition with bucket <= t < accepts_until.
CREATE TABLE IF NOT EXISTS processed_events_partitions (
    bucket         timestamptz  NOT NULL,
    ends_at        timestamptz  NOT NULL,
    accepts_until  timestamptz  NOT NULL,
    partition_name varchar(63)  NOT NULL,
    CONSTRAINT processed_events_partitions_pkey PRIMARY KEY (bucket)
);
