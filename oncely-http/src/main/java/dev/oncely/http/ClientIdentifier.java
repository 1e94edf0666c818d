package dev.oncely.http;

import jakarta.servlet.http.HttpServletRequest;
import java.security.Principal;
import java.util.Objects;
import java.util.Optional;

/**
 * Who sent a request: keys are kept per client, so one client can never replay another's response, and two
 * clients may use the same key. The identity is hashed with the key before it is stored, never stored as such (an
 * API key stays secret). Return empty when the request carries no identity: the filter answers 401.
 */
@FunctionalInterface
public interface ClientIdentifier {

    Optional<String> identify(HttpServletRequest request);

    /**
     * The authenticated principal's name ({@link HttpServletRequest#getUserPrincipal()}); put the idempotency
     * filter after the authentication filter.
     */
    static ClientIdentifier principal() {
        return request -> Optional.ofNullable(request.getUserPrincipal()).map(Principal::getName)
                .filter(name -> !name.isBlank());
    }

    /** The value of a request header, such as an API key ({@code X-Api-Key}); absent or blank is unidentified. */
    static ClientIdentifier header(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("The client header name is blank: name the header that carries the"
                    + " client's identity, e.g. \"X-Api-Key\".");
        }
        return request -> Optional.ofNullable(request.getHeader(name)).filter(value -> !value.isBlank());
    }
}
