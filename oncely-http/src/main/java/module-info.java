/**
 * Oncely for HTTP ({@code dev.oncely.http}): a Jakarta Servlet filter for the Idempotency-Key header whose key,
 * database writes and stored response commit in one transaction.
 */
module dev.oncely.http {
    requires transitive dev.oncely.core;
    requires transitive jakarta.servlet;
    requires transitive java.sql;
    requires org.slf4j;

    exports dev.oncely.http;
}
