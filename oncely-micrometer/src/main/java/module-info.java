/**
 * Micrometer meters and observations for Oncely ({@code dev.oncely.micrometer}): {@code OncelyMetrics}, an
 * {@code OncelyListener} you set on handlers and purgers.
 */
module dev.oncely.micrometer {
    requires transitive dev.oncely.core;
    requires transitive micrometer.core;
    requires transitive micrometer.observation;
    requires micrometer.commons;
    requires org.slf4j;

    exports dev.oncely.micrometer;
}
