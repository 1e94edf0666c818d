package dev.oncely.kafka;

import java.util.Set;
import org.apache.kafka.common.TopicPartition;

/**
 * What one {@link KafkaPollLoop#pollOnce()} did.
 *
 * @param records    records the poll returned
 * @param processed  records whose handler ran and committed
 * @param duplicates records skipped as duplicates (their effects committed before)
 * @param fenced     partitions whose batch was rolled back because the stored offset was not the one this
 *                   consumer expected (offsets-in-database mode only): another consumer owns or owned them
 * @param poisoned   poison records handed to the {@link KafkaPollLoop.Builder#onPoisonRecord poison handler}
 *                   and skipped
 */
public record PollResult(int records, int processed, int duplicates, Set<TopicPartition> fenced, int poisoned) {

    public PollResult {
        fenced = Set.copyOf(fenced);
    }
}
