package dev.oncely.http.internal;

import dev.oncely.http.FailurePolicy;
import java.time.Duration;
import java.util.List;

/** What every mode needs from the filter's builder, validated there. */
public record Settings(String consumer, Duration retention, boolean retentionForTestsOnly, int maxStoredResponseBytes,
                       List<String> replayedHeaders, FailurePolicy onServerError, FailurePolicy onException) {

    public Settings {
        replayedHeaders = List.copyOf(replayedHeaders);
    }
}
