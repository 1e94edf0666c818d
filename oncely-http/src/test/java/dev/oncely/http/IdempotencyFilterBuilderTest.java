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
    void leaseOptionsAreRefusedInTheInTransactionModeAndCheckedAtBuildInTheLeaseMode() {
        IdempotencyFilter.Builder inTransaction = IdempotencyFilter.inTransaction(store);
        assertThatThrownBy(() -> inTransaction.lease(Duration.ofSeconds(30)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("IdempotencyFilter.leased(store)");
        assertThatThrownBy(() -> inTransaction.waitForInProgress(Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("an option of the lease mode");
        assertThatThrownBy(() -> IdempotencyFilter.leased(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("store is null");

        assertThatThrownBy(() -> leased().lease(Duration.ofMillis(10)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside 1 second to 1 day");
        assertThatThrownBy(() -> leased().maxAttempts(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxAttempts 0");
        assertThatThrownBy(() -> leased().retention(Duration.ofMinutes(5)).lease(Duration.ofMinutes(3)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least twice the lease");
        assertThatThrownBy(() -> leased().retentionForTestsOnly(Duration.ofSeconds(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not offered in lease mode");
        assertThat(leased().lease(Duration.ofSeconds(5)).keepAlive(Duration.ofMinutes(1)).maxAttempts(3)
                .waitForInProgress(Duration.ofSeconds(2)).build().toString()).contains("lease mode");
    }

    private IdempotencyFilter.Builder leased() {
        return IdempotencyFilter.leased(store).consumer("api").clients(ClientIdentifier.header("X-Api-Key"));
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
