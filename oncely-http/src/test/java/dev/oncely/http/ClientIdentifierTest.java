package dev.oncely.http;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.http.HttpServletRequest;
import java.lang.reflect.Proxy;
import java.security.Principal;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ClientIdentifierTest {

    /** A request that answers getUserPrincipal and getHeader from the given values, and nothing else. */
    private static HttpServletRequest request(Principal principal, Map<String, String> headers) {
        return (HttpServletRequest) Proxy.newProxyInstance(ClientIdentifierTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getUserPrincipal" -> principal;
                    case "getHeader" -> headers.get((String) args[0]);
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void thePrincipalsNameIdentifiesTheClientAndNoPrincipalIsUnidentified() {
        assertThat(ClientIdentifier.principal().identify(request(() -> "alice", Map.of()))).hasValue("alice");
        assertThat(ClientIdentifier.principal().identify(request(null, Map.of()))).isEmpty();
        assertThat(ClientIdentifier.principal().identify(request(() -> " ", Map.of()))).isEmpty();
    }

    @Test
    void aHeaderIdentifiesTheClientAndAnAbsentOrBlankOneIsUnidentified() {
        ClientIdentifier byApiKey = ClientIdentifier.header("X-Api-Key");
        assertThat(byApiKey.identify(request(null, Map.of("X-Api-Key", "k-123")))).hasValue("k-123");
        assertThat(byApiKey.identify(request(null, Map.of()))).isEmpty();
        assertThat(byApiKey.identify(request(null, Map.of("X-Api-Key", "")))).isEmpty();
    }
}
