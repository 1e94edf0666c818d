package dev.oncely.spring.kafka;

import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

/** One in-process KRaft broker for every Kafka test class of the JVM (each uses topics of its own). */
final class KafkaTestBroker {

    private static EmbeddedKafkaKraftBroker broker;

    private KafkaTestBroker() {
    }

    static synchronized EmbeddedKafkaKraftBroker get() {
        if (broker == null) {
            broker = new EmbeddedKafkaKraftBroker(1, 1);
            broker.brokerProperty("group.initial.rebalance.delay.ms", "0");
            broker.afterPropertiesSet();
            Runtime.getRuntime().addShutdownHook(new Thread(broker::destroy));
        }
        return broker;
    }
}
