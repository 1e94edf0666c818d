/**
 * HTTP idempotency keys for servlet applications: {@link dev.oncely.http.IdempotencyFilter} (the
 * {@code Idempotency-Key} header, IETF draft semantics) and {@link dev.oncely.http.IdempotencyContext} (the
 * request's transaction). See docs/http.md.
 */
package dev.oncely.http;
