/**
 * Oncely's core: {@code IdempotentHandler}, {@code DedupStore} and the exceptions ({@code dev.oncely}), the store
 * SPI ({@code dev.oncely.spi}) and the in-memory store for unit tests ({@code dev.oncely.inmemory}). Its
 * {@code internal} package is shared with Oncely's own modules only.
 */
module dev.oncely.core {
    requires org.slf4j;

    exports dev.oncely;
    exports dev.oncely.spi;
    exports dev.oncely.inmemory;
    exports dev.oncely.internal to dev.oncely.jdbc, dev.oncely.kafka;
}
