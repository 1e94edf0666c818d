package dev.oncely.kafka;

import dev.oncely.OncelyException;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * What {@link KafkaPollLoop} does with a record that can never be processed as it is (a poison record): one whose
 * idempotency key is missing or invalid ({@link dev.oncely.InvalidMessageException}) or whose key was processed
 * before with another payload ({@link dev.oncely.PayloadConflictException}). Kafka has no dead-letter queue of its
 * own: send the record to a dead-letter topic, store it, or log it here. When this returns, the loop skips the
 * record: its offset is committed (with the records before it, in the same transaction in offsets-in-database
 * mode) and it is never handed to the handler.
 *
 * <p>Called at least once per poison record: if the loop fails or the process dies after this returns and before
 * the skip commits, the record comes back and this is called again, so make it idempotent (a dead-letter topic
 * keyed by topic/partition/offset, say). If it throws, nothing is skipped and the exception reaches the caller of
 * {@link KafkaPollLoop#pollOnce()} (and ends {@link KafkaPollLoop#run()}) unchanged.
 *
 * @param <K> the record key type
 * @param <V> the record value type
 */
@FunctionalInterface
public interface PoisonRecordHandler<K, V> {

    /**
     * @param record the record that cannot be processed
     * @param reason an {@link dev.oncely.InvalidMessageException} or a {@link dev.oncely.PayloadConflictException}
     */
    void onPoisonRecord(ConsumerRecord<K, V> record, OncelyException reason) throws Exception;
}
