package dev.oncely.examples.springboot;

import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.springframework.kafka.listener.ConsumerRecordRecoverer;
import org.springframework.stereotype.Component;

/**
 * Where the records that are not retried go: the starter's {@code OncelyKafkaErrorHandler} uses a single
 * {@link ConsumerRecordRecoverer} bean. An application would publish them to a dead-letter topic
 * ({@code DeadLetterPublishingRecoverer}); the example counts them and prints one line each.
 */
@Component
public class InvalidRecords implements ConsumerRecordRecoverer {

    private final AtomicInteger count = new AtomicInteger();

    @Override
    public void accept(ConsumerRecord<?, ?> record, Exception failure) {
        count.incrementAndGet();
        Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
        System.out.printf("  dead letter: %s-%d@%d (%s: %s)%n", record.topic(), record.partition(), record.offset(),
                cause.getClass().getSimpleName(), cause.getMessage());
    }

    public int count() {
        return count.get();
    }
}
