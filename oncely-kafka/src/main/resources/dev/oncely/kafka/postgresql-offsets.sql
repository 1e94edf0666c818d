-- Oncely: consumed Kafka offsets stored in the database, for PostgreSQL (9.5 or later; tested on 15).
-- Used by KafkaPollLoop in offsets-in-database mode (KafkaOffsetStore). Each row says: group group_id has
-- processed topic/partition_id up to, not including, next_offset. The row is updated in the same transaction
-- as the dedup claims and the business writes, with a check of the value the consumer expects (the fence).
-- Put it in the same database as the dedup table.
-- Apply it with psql, your migration tool, or KafkaOffsetStore#createSchemaIfMissing(). To use another table
-- name, replace oncely_kafka_offsets everywhere below (constraint name included) and pass the same name to
-- KafkaOffsetStore.Builder#table.
CREATE TABLE IF NOT EXISTS oncely_kafka_offsets (
    group_id     varchar(255) NOT NULL,
    topic        varchar(249) NOT NULL,
    partition_id integer      NOT NULL,
    next_offset  bigint       NOT NULL,
    updated_at   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT oncely_kafka_offsets_pkey PRIMARY KEY (group_id, topic, partition_id)
);
