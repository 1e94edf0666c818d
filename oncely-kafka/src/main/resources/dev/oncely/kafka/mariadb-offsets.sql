-- Oncely: consumed Kafka offsets stored in the database, for MariaDB (10.5 or later; tested on 10.11) and
-- MySQL (8.0 or later), InnoDB. Used by KafkaPollLoop in offsets-in-database mode (KafkaOffsetStore). Each row
-- says: group group_id has processed topic/partition_id up to, not including, next_offset. The row is updated in
-- the same transaction as the dedup claims and the business writes, with a check of the value the consumer
-- expects (the fence). Put it in the same database (schema) as the dedup table.
-- Apply it with the mariadb/mysql client, your migration tool, or KafkaOffsetStore#createSchemaIfMissing(). To
-- use another table name, replace oncely_kafka_offsets everywhere below and pass the same name to
-- KafkaOffsetStore.Builder#table.
-- utf8mb4_bin: group and topic names compare byte for byte, as Kafka compares them. The key is at most
-- (255 + 249) * 4 + 4 bytes, within InnoDB's 3072.
CREATE TABLE IF NOT EXISTS oncely_kafka_offsets (
    group_id     varchar(255) NOT NULL,
    topic        varchar(249) NOT NULL,
    partition_id integer      NOT NULL,
    next_offset  bigint       NOT NULL,
    updated_at   datetime(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (group_id, topic, partition_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
