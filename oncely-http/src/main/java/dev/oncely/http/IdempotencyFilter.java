package dev.oncely.http;

import dev.oncely.DedupStore;
import dev.oncely.IdempotentHandler;
import dev.oncely.http.internal.Digests;
import dev.oncely.http.internal.Exchange;
import dev.oncely.http.internal.InTransactionMode;
import dev.oncely.http.internal.KeyHeader;
import dev.oncely.http.internal.LeaseSettings;
import dev.oncely.http.internal.LeasedMode;
import dev.oncely.http.internal.Mode;
import dev.oncely.http.internal.Problems;
import dev.oncely.http.internal.Settings;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A servlet filter for the {@code Idempotency-Key} request header (IETF draft-ietf-httpapi-idempotency-key-header):
 * the first request with a key runs and its response is kept; a retry with the same key (from the same client) gets
 * that response replayed, byte for byte, with {@code Idempotent-Replayed: true}, and does not run again.
 *
 * <p>In the in-transaction mode ({@link #inTransaction}) the key's record, the handler's database writes and the
 * stored response commit in one database transaction, so a request's writes happen exactly once per (client, key)
 * within the retention. Handlers reach that transaction with {@link IdempotencyContext#connection}. By default the
 * key is claimed first; {@link Builder#keyWrittenLast()} writes it after the handler, with the response, in one
 * statement (one fewer; retries then run the handler and roll back).
 *
 * <p>In the lease mode ({@link #leased}) the key is taken in a short transaction of its own, the handler runs with
 * no transaction and no connection held (for handlers that call other services), and its response is stored with
 * the key's completion; a retry while it runs gets {@code 409} with {@code Retry-After}. Handlers reach their
 * {@link dev.oncely.LeasedRun} (downstream keys, steps) with {@link IdempotencyContext#run}.
 *
 * <pre>{@code
 * IdempotencyFilter filter = IdempotencyFilter.inTransaction(store)
 *         .consumer("payments-api")
 *         .clients(ClientIdentifier.header("X-Api-Key"))
 *         .paths("/charges")
 *         .build();
 * }</pre>
 *
 * Answers (docs/http.md has the full table): 400 for a missing or malformed key, 401 for an unidentified client,
 * 413 for a body over the fingerprint limit, 422 for a key reused with another request, the replay for a retry, and
 * {@code application/problem+json} bodies that say what to do. Requests whose method or path the filter does not
 * cover pass through untouched. Instances are immutable and thread-safe; asynchronous servlets are not supported
 * under it (the transaction is the request thread's).
 */
public final class IdempotencyFilter implements Filter {

    /** The request header: {@value}. */
    public static final String KEY_HEADER = "Idempotency-Key";
    /** The response header on every replay: {@value}{@code : true}. */
    public static final String REPLAYED_HEADER = "Idempotent-Replayed";
    /** How long keys are kept unless {@link Builder#retention} says otherwise: 24 hours, as Stripe does. */
    public static final Duration DEFAULT_RETENTION = Duration.ofHours(24);
    /** The default of {@link Builder#maxStoredResponseBytes} and {@link Builder#maxRequestBodyBytes}: 1 MiB. */
    public static final int DEFAULT_MAX_BYTES = 1 << 20;

    private static final Logger log = LoggerFactory.getLogger(IdempotencyFilter.class);
    private static final byte[] EMPTY = new byte[0];
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

    private final Mode mode;
    private final Set<String> methods;
    private final List<String> paths;
    private final boolean keyRequired;
    private final ClientIdentifier clients;
    private final List<String> fingerprintHeaders;
    private final int maxRequestBodyBytes;
    private final String consumer;

    private IdempotencyFilter(Builder builder, Mode mode) {
        this.mode = mode;
        this.methods = Set.copyOf(builder.methods);
        this.paths = List.copyOf(builder.paths);
        this.keyRequired = builder.keyRequired;
        this.clients = builder.clients;
        this.fingerprintHeaders = List.copyOf(builder.fingerprintHeaders);
        this.maxRequestBodyBytes = builder.maxRequestBodyBytes;
        this.consumer = builder.consumer;
    }

    /**
     * Starts a filter in the in-transaction mode on a store: the key, the handler's database writes and the response
     * commit in one transaction of {@code store}; a concurrent retry waits for the first request and gets its
     * replay. For handlers whose effects are in that database. For handlers that call other services, see
     * {@link #leased}.
     */
    public static Builder inTransaction(DedupStore store) {
        if (store == null) {
            throw new IllegalArgumentException("store is null: pass the DedupStore whose database the handlers write"
                    + " to, e.g. JdbcDedupStore.builder(dataSource).build().");
        }
        return new Builder((settings, options) -> new InTransactionMode(store, settings, options.keyWrittenLast),
                false);
    }

    /**
     * Starts a filter in the lease mode on a store that offers leases ({@link DedupStore#leases()}): the key is taken
     * IN_PROGRESS in a short transaction of its own, the handler runs with no transaction open and no connection
     * held, and its response is stored with the key's completion before it is sent. A retry while the first request
     * runs is answered {@code 409} with {@code Retry-After} (or waits, {@link Builder#waitForInProgress}); a request
     * whose server died is taken over by a retry once its lease ran out ({@link Builder#lease}). For handlers that
     * call other services; their own database writes commit on their own (see docs/http.md).
     */
    public static Builder leased(DedupStore store) {
        if (store == null) {
            throw new IllegalArgumentException("store is null: pass a DedupStore with leases, e.g."
                    + " JdbcDedupStore.builder(dataSource).build().");
        }
        return new Builder((settings, options) -> new LeasedMode(store, settings, options.lease()), true);
    }

    /**
     * The key under which (client, key) is stored in the dedup table: the SHA-256, in hex, of both. For operators
     * looking a key up (e.g. with {@code store.admin()}).
     */
    public static String storedKey(String client, String key) {
        MessageDigest sha = Digests.sha256();
        byte[] c = client.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        sha.update(new byte[] {(byte) (c.length >>> 24), (byte) (c.length >>> 16), (byte) (c.length >>> 8),
                (byte) c.length});
        sha.update(c);
        sha.update(k);
        return HexFormat.of().formatHex(sha.digest());
    }

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
            throws IOException, ServletException {
        if (!(req instanceof HttpServletRequest request) || !(res instanceof HttpServletResponse response)
                || !covers(request)) {
            chain.doFilter(req, res);
            return;
        }
        Enumeration<String> values = request.getHeaders(KEY_HEADER);
        String header = values != null && values.hasMoreElements() ? values.nextElement() : null;
        if (header == null) {
            if (keyRequired) {
                log.debug("{} {}: no Idempotency-Key", request.getMethod(), request.getRequestURI());
                Problems.keyMissing().send(response);
            } else {
                chain.doFilter(req, res);
            }
            return;
        }
        if (values.hasMoreElements()) {
            int times = 2;
            for (values.nextElement(); values.hasMoreElements(); values.nextElement()) {
                times++;
            }
            Problems.keyMalformed("the header was sent " + times + " times").send(response);
            return;
        }
        KeyHeader.Parsed parsed = KeyHeader.parse(header);
        if (parsed instanceof KeyHeader.Malformed malformed) {
            log.debug("{} {}: malformed Idempotency-Key ({})", request.getMethod(), request.getRequestURI(),
                    malformed.reason());
            Problems.keyMalformed(malformed.reason()).send(response);
            return;
        }
        String key = ((KeyHeader.Key) parsed).value();
        String client;
        try {
            client = clients.identify(request).orElse(null);
        } catch (RuntimeException e) {
            throw new ServletException("The ClientIdentifier of the idempotency filter of consumer '" + consumer
                    + "' failed: " + e.getMessage(), e);
        }
        if (client == null) {
            Problems.clientUnidentified().send(response);
            return;
        }
        if (request.getContentLengthLong() > maxRequestBodyBytes) {
            Problems.requestTooLarge(maxRequestBodyBytes).send(response);
            return;
        }
        byte[] body = readBody(request);
        if (body == null) {
            Problems.requestTooLarge(maxRequestBodyBytes).send(response);
            return;
        }
        String storedKey = storedKey(client, key);
        mode.handle(new Exchange(request, response, chain, storedKey, fingerprint(request, body), body));
    }

    private boolean covers(HttpServletRequest request) {
        if (!methods.contains(request.getMethod())) {
            return false;
        }
        String path = request.getRequestURI().substring(request.getContextPath().length());
        for (String pattern : paths) {
            if (pattern.equals("/*")) {
                return true;
            }
            if (pattern.endsWith("/*")) {
                String prefix = pattern.substring(0, pattern.length() - 2);
                if (path.equals(prefix) || path.startsWith(prefix + "/")) {
                    return true;
                }
            } else if (path.equals(pattern)) {
                return true;
            }
        }
        return false;
    }

    /** The whole body, or null if it is larger than the limit. */
    private byte[] readBody(HttpServletRequest request) throws IOException {
        long declared = request.getContentLengthLong();
        if (declared == 0) {
            return EMPTY;
        }
        // Sized by the declared length (checked against the limit before): no 8 KiB buffer per small request.
        ByteArrayOutputStream out = new ByteArrayOutputStream(declared > 0 ? (int) declared : 256);
        byte[] buffer = new byte[declared > 0 && declared < 8192 ? (int) declared + 1 : 8192];
        try (InputStream in = request.getInputStream()) {
            int n;
            while ((n = in.read(buffer)) != -1) {
                if (out.size() + n > maxRequestBodyBytes) {
                    return null;
                }
                out.write(buffer, 0, n);
            }
        }
        return out.toByteArray();
    }

    /** SHA-256 of the method, the path with its query, the fingerprinted headers and the body, each delimited. */
    private byte[] fingerprint(HttpServletRequest request, byte[] body) {
        MessageDigest sha = Digests.sha256();
        try (DataOutputStream out = new DataOutputStream(new DigestOutputStream(OutputStreamNull.INSTANCE, sha))) {
            out.writeUTF("oncely-http-fingerprint-1");
            out.writeUTF(request.getMethod());
            String query = request.getQueryString();
            out.writeUTF(query == null ? request.getRequestURI() : request.getRequestURI() + "?" + query);
            for (String name : fingerprintHeaders) {
                List<String> values = Collections.list(request.getHeaders(name));
                out.writeUTF(name.toLowerCase(Locale.ROOT));
                out.writeInt(values.size());
                for (String v : values) {
                    out.writeUTF(v);
                }
            }
            out.writeInt(body.length);
            out.write(body);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // cannot happen: the sink is a digest
        }
        return sha.digest();
    }

    private static final class OutputStreamNull extends java.io.OutputStream {
        static final OutputStreamNull INSTANCE = new OutputStreamNull();

        @Override
        public void write(int b) {
        }

        @Override
        public void write(byte[] b, int off, int len) {
        }
    }

    @Override
    public String toString() {
        return "IdempotencyFilter[consumer=" + consumer + ", " + mode.describe() + "]";
    }

    /**
     * Configures an {@link IdempotencyFilter}. Required: {@link #consumer} and {@link #clients}; {@link #build()}
     * checks everything and says what is missing.
     */
    public static final class Builder {
        /** Builds the mode the entry point chose ({@link #inTransaction} or {@link #leased}) from this builder. */
        private final BiFunction<Settings, Builder, Mode> mode;
        private final boolean leased;
        private Duration lease = Duration.ofMinutes(1);
        private Duration keepAlive;
        private int maxAttempts = 5;
        private Duration waitForInProgress = Duration.ZERO;
        private String consumer;
        private ClientIdentifier clients;
        private Set<String> methods = new LinkedHashSet<>(List.of("POST", "PATCH"));
        private List<String> paths = List.of("/*");
        private boolean keyRequired = true;
        private Duration retention = DEFAULT_RETENTION;
        private boolean retentionForTestsOnly;
        private List<String> fingerprintHeaders = List.of();
        private List<String> replayedHeaders = List.of("Location");
        private int maxRequestBodyBytes = DEFAULT_MAX_BYTES;
        private int maxStoredResponseBytes = DEFAULT_MAX_BYTES;
        private FailurePolicy onServerError = FailurePolicy.KEEP_RESULT;
        private FailurePolicy onException = FailurePolicy.RELEASE_KEY;

        private boolean keyWrittenLast;

        private Builder(BiFunction<Settings, Builder, Mode> mode, boolean leased) {
            this.mode = mode;
            this.leased = leased;
        }

        /**
         * The consumer name the keys are recorded under: one per API (or per filter), up to 100 characters. Two
         * filters with the same name share their keys.
         */
        public Builder consumer(String consumer) {
            if (consumer == null || consumer.isBlank() || consumer.length() > IdempotentHandler.MAX_CONSUMER_LENGTH) {
                throw new IllegalArgumentException("consumer must be 1 to " + IdempotentHandler.MAX_CONSUMER_LENGTH
                        + " characters, was " + (consumer == null ? "null" : "'" + consumer + "'")
                        + ": name the API, e.g. \"payments-api\".");
            }
            this.consumer = consumer;
            return this;
        }

        /** How a request's client is identified: {@link ClientIdentifier#principal()}, a header, or your function. */
        public Builder clients(ClientIdentifier clients) {
            this.clients = Objects.requireNonNull(clients, "clients");
            return this;
        }

        /** The methods that take a key (default POST and PATCH, as the draft suggests). Others pass through. */
        public Builder methods(String... methods) {
            Set<String> set = new LinkedHashSet<>();
            for (String m : methods) {
                if (m == null || !HEADER_NAME.matcher(m).matches()) {
                    throw new IllegalArgumentException("'" + m + "' is not an HTTP method: name methods as sent,"
                            + " e.g. \"POST\".");
                }
                set.add(m.toUpperCase(Locale.ROOT));
            }
            if (set.isEmpty()) {
                throw new IllegalArgumentException("methods(...) needs at least one method, e.g. \"POST\".");
            }
            this.methods = set;
            return this;
        }

        /**
         * The paths (within the application's context path) that take a key: {@code "/charges"} exactly,
         * {@code "/charges/*"} for it and everything under it, {@code "/*"} for all (the default). Others pass
         * through.
         */
        public Builder paths(String... patterns) {
            List<String> list = new ArrayList<>();
            for (String p : patterns) {
                if (p == null || !p.startsWith("/") || p.indexOf('*') >= 0 && !p.endsWith("/*")
                        || p.indexOf('*') != p.lastIndexOf('*')) {
                    throw new IllegalArgumentException("'" + p + "' is not a path pattern: use \"/charges\" (that"
                            + " path), \"/charges/*\" (it and everything under it) or \"/*\" (all).");
                }
                list.add(p);
            }
            if (list.isEmpty()) {
                throw new IllegalArgumentException("paths(...) needs at least one pattern, e.g. \"/charges\".");
            }
            this.paths = list;
            return this;
        }

        /**
         * Whether a covered request without a key is refused with 400 (true, the default) or passes through
         * without idempotency (false: for APIs that make keys optional).
         */
        public Builder keyRequired(boolean required) {
            this.keyRequired = required;
            return this;
        }

        /**
         * How long a key is kept, by the database clock: a retry after that runs again. Default 24 hours; at least
         * {@link IdempotentHandler#MIN_RETENTION}. Publish it to your clients (the draft asks servers to).
         */
        public Builder retention(Duration retention) {
            if (retention == null || retention.compareTo(IdempotentHandler.MIN_RETENTION) < 0) {
                throw new IllegalArgumentException("retention " + retention + " is shorter than the minimum of "
                        + IdempotentHandler.MIN_RETENTION + ": clients retry for longer than that. Keep keys at"
                        + " least as long as your clients retry, e.g. Duration.ofHours(24).");
            }
            this.retention = retention;
            this.retentionForTestsOnly = false;
            return this;
        }

        /** For tests of expiry only: {@link #retention} without its minimum. Never in production. */
        public Builder retentionForTestsOnly(Duration retention) {
            if (retention == null || retention.isZero() || retention.isNegative()) {
                throw new IllegalArgumentException("retention must be positive, was " + retention);
            }
            this.retention = retention;
            this.retentionForTestsOnly = true;
            return this;
        }

        /**
         * Request headers that are part of the fingerprint, besides the method, the path with its query and the
         * body (e.g. "Content-Type"). A retry must send them unchanged, or it is answered 422. Default: none.
         */
        public Builder fingerprintHeaders(String... names) {
            this.fingerprintHeaders = headerNames("fingerprintHeaders", names);
            return this;
        }

        /**
         * Response headers stored with the response and replayed (besides Content-Type, always replayed).
         * Default: Location. Headers not listed (Set-Cookie, Date, tracing headers) are sent on the first response
         * only.
         */
        public Builder replayedHeaders(String... names) {
            this.replayedHeaders = headerNames("replayedHeaders", names);
            return this;
        }

        /** The largest request body that is accepted and fingerprinted; larger ones get 413. Default 1 MiB. */
        public Builder maxRequestBodyBytes(int bytes) {
            this.maxRequestBodyBytes = checkBytes("maxRequestBodyBytes", bytes);
            return this;
        }

        /**
         * The largest response body that is stored for replays. A larger response is not sent: the transaction
         * rolls back (the key is free again) and the client gets a 500 problem. Default 1 MiB.
         */
        public Builder maxStoredResponseBytes(int bytes) {
            this.maxStoredResponseBytes = checkBytes("maxStoredResponseBytes", bytes);
            return this;
        }

        /**
         * What a 5xx response does to the key. Default {@link FailurePolicy#KEEP_RESULT}, as Stripe: the request ran;
         * its writes commit with the 5xx, which is replayed to retries. {@link FailurePolicy#RELEASE_KEY} rolls back
         * the writes and the key, and sends the 5xx unstored: a retry runs again. In the lease mode: KEEP_RESULT
         * completes the key with the 5xx; RELEASE_KEY sends it unstored and releases the lease (a retry takes over).
         */
        public Builder onServerError(FailurePolicy policy) {
            this.onServerError = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * What an exception out of the handler does to the key. It always rolls back the handler's writes. Default
         * {@link FailurePolicy#RELEASE_KEY}: the key rolls back with them, the exception goes on to the container,
         * and a retry with the same key runs again (nothing was committed, so nothing is repeated in the database).
         * {@link FailurePolicy#KEEP_RESULT} records a 500 problem for the key instead (in a second transaction), which
         * retries get replayed. In the lease mode nothing is rolled back (there is no transaction): RELEASE_KEY
         * releases the lease (a retry takes over at once; after {@link #maxAttempts} the key is parked), KEEP_RESULT
         * completes the key with a 500 problem.
         */
        public Builder onException(FailurePolicy policy) {
            this.onException = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Lease mode: how long a request holds its key before a retry may take it over (as if its server had died).
         * Longer than the slowest request, its calls' timeouts included; a shorter one lets a retry run beside a
         * slow first request. Default 1 minute; 1 second to 1 day.
         */
        public Builder lease(Duration lease) {
            this.lease = leaseOption("lease", lease);
            return this;
        }

        /**
         * Lease mode: renew the lease every third of it while the handler runs, for at most {@code maxRunTime}, so a
         * short lease (quick takeover after a crash) serves slow requests too. Default: off.
         */
        public Builder keepAlive(Duration maxRunTime) {
            this.keepAlive = leaseOption("keepAlive", maxRunTime);
            return this;
        }

        /**
         * Lease mode: how many runs of one key may fail (throw under {@code onException(RELEASE_KEY)}, release a 5xx
         * under {@code onServerError(RELEASE_KEY)}, or lose their lease) before the key is parked as failed and
         * answered {@code 500 idempotency-key-failed}. Default 5; 1 to 1000.
         */
        public Builder maxAttempts(int maxAttempts) {
            leaseOption("maxAttempts", maxAttempts);
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * Lease mode: a retry that finds its key in progress waits up to {@code max} for the first request's
         * response (and replays it) instead of being answered {@code 409} at once; it holds a request thread, not a
         * connection, while it waits. Default zero (409 at once); up to 10 minutes.
         */
        public Builder waitForInProgress(Duration max) {
            this.waitForInProgress = leaseOption("waitForInProgress", max);
            return this;
        }

        /**
         * In-transaction mode: write the key last. The handler runs first in the store's transaction; then the key's
         * row is inserted together with the stored response, in one statement, and the transaction commits: one
         * statement of the filter's fewer than the default (claim first, then store the response with an UPDATE).
         * The answers are the same, and so is the guarantee: the request's database writes commit exactly once per
         * key. What differs: a concurrent or later retry of a key runs the handler too (a concurrent one waits on
         * the first's key only when it writes its own), and then everything it wrote is rolled back and it is
         * answered with the replay (or 422). Choose it for handlers with no effects outside the database, where
         * running again and rolling back is harmless; see docs/http.md. Default: off (claim first).
         */
        public Builder keyWrittenLast() {
            if (leased) {
                throw new IllegalArgumentException("keyWrittenLast() is an option of the in-transaction mode; in the"
                        + " lease mode the key must be taken before the handler calls other services. Start with"
                        + " IdempotencyFilter.inTransaction(store) to write the key last.");
            }
            this.keyWrittenLast = true;
            return this;
        }

        private LeaseSettings lease() {
            return new LeaseSettings(lease, Optional.ofNullable(keepAlive), maxAttempts, waitForInProgress);
        }

        private <T> T leaseOption(String name, T value) {
            if (!leased) {
                throw new IllegalArgumentException(name + "(...) is an option of the lease mode; this filter is in"
                        + " the in-transaction mode, where a retry waits for the first request's transaction. Start"
                        + " with IdempotencyFilter.leased(store) to use leases.");
            }
            return Objects.requireNonNull(value, name);
        }

        public IdempotencyFilter build() {
            List<String> missing = new ArrayList<>();
            if (consumer == null) {
                missing.add("consumer(\"payments-api\")");
            }
            if (clients == null) {
                missing.add("clients(ClientIdentifier.principal()) (or .header(\"X-Api-Key\"), or a function of the"
                        + " request)");
            }
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("IdempotencyFilter needs " + String.join(", ", missing)
                        + " before build().");
            }
            Settings settings = new Settings(consumer, retention, retentionForTestsOnly, maxStoredResponseBytes,
                    replayedHeaders, onServerError, onException);
            IdempotencyFilter filter = new IdempotencyFilter(this, mode.apply(settings, this));
            log.info("Oncely idempotency filter for consumer '{}' ({}): methods {}, paths {}, key {}, retention {},"
                            + " 5xx {}, exceptions {}", consumer, filter.mode.describe(), methods, paths,
                    keyRequired ? "required" : "optional", retention, onServerError, onException);
            return filter;
        }

        private static List<String> headerNames(String what, String... names) {
            List<String> list = new ArrayList<>();
            for (String n : names) {
                if (n == null || !HEADER_NAME.matcher(n).matches()) {
                    throw new IllegalArgumentException(what + ": '" + n + "' is not a header name.");
                }
                if (n.equalsIgnoreCase("Content-Length") || n.equalsIgnoreCase("Content-Type")
                        && what.equals("replayedHeaders") || n.equalsIgnoreCase(KEY_HEADER)) {
                    throw new IllegalArgumentException(what + ": '" + n + "' is handled by the filter itself;"
                            + " leave it out.");
                }
                list.add(n);
            }
            return list;
        }

        private static int checkBytes(String what, int bytes) {
            if (bytes < 1 || bytes > 64 << 20) {
                throw new IllegalArgumentException(what + " must be 1 byte to 64 MiB, was " + bytes
                        + ": responses and bodies are held in memory.");
            }
            return bytes;
        }
    }
}
