package dev.oncely.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oncely.inmemory.InMemoryDedupStore;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class IdempotencyFilterBuilderTest {

    private final InMemoryDedupStore store = InMemoryDedupStore.create();

    @Test
    void buildSaysWhatIsMissing() {
        assertThatThrownBy(() -> IdempotencyFilter.inTransaction(store).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("consumer(\"payments-api\")")
                .hasMessageContaining("clients(ClientIdentifier.principal())");
        assertThatThrownBy(() -> IdempotencyFilter.inTransaction(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("store is null");
    }

    @Test
    void retentionBelowTheStoresMinimumIsRefusedUnlessForTests() {
        IdempotencyFilter.Builder builder = IdempotencyFilter.inTransaction(store).consumer("api")
                .clients(ClientIdentifier.header("X-Api-Key"));
        assertThatThrownBy(() -> builder.retention(Duration.ofSeconds(59)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shorter than the minimum");
        assertThat(builder.retentionForTestsOnly(Duration.ofSeconds(1)).build()).isNotNull();
    }

    @Test
    void badPathsMethodsHeadersAndLimitsAreRefusedWithWhatToDo() {
        IdempotencyFilter.Builder builder = IdempotencyFilter.inTransaction(store);
        assertThatThrownBy(() -> builder.paths("charges")).hasMessageContaining("is not a path pattern");
        assertThatThrownBy(() -> builder.paths("/a/*/b")).hasMessageContaining("is not a path pattern");
        assertThatThrownBy(() -> builder.methods("PO ST")).hasMessageContaining("is not an HTTP method");
        assertThatThrownBy(() -> builder.replayedHeaders("Content-Type")).hasMessageContaining("handled by the filter");
        assertThatThrownBy(() -> builder.fingerprintHeaders("Idempotency-Key")).hasMessageContaining("handled by the filter");
        assertThatThrownBy(() -> builder.maxStoredResponseBytes(0)).hasMessageContaining("1 byte to 64 MiB");
        assertThatThrownBy(() -> builder.consumer(" ")).hasMessageContaining("consumer must be 1 to 100 characters");
        assertThatThrownBy(() -> ClientIdentifier.header(" ")).hasMessageContaining("client header name is blank");
    }

    @Test
    void theStoredKeyDependsOnClientAndKeyAndIsAHexDigest() {
        String a = IdempotencyFilter.storedKey("client-a", "k1");
        assertThat(a).hasSize(64).matches("[0-9a-f]+");
        assertThat(IdempotencyFilter.storedKey("client-b", "k1")).isNotEqualTo(a);
        assertThat(IdempotencyFilter.storedKey("client-a", "k2")).isNotEqualTo(a);
        // The client's length is part of the digest: ("ab", "c") and ("a", "bc") differ.
        assertThat(IdempotencyFilter.storedKey("ab", "c")).isNotEqualTo(IdempotencyFilter.storedKey("a", "bc"));
    }
}
