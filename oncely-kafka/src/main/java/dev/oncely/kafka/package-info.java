/**
 * Oncely for Kafka consumers: {@link dev.oncely.kafka.RecordKeys} (idempotency keys of records),
 * {@link dev.oncely.kafka.KafkaPollLoop} (a poll loop that commits offsets only after the database commit) and
 * {@link dev.oncely.kafka.KafkaOffsetStore} (consumed offsets stored in the database with a zombie fence).
 */
package dev.oncely.kafka;
