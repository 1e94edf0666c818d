/** The RabbitMQ adapter ({@code dev.oncely.rabbitmq}): a DeliverCallback that acknowledges after the commit. */
module dev.oncely.rabbitmq {
    requires transitive dev.oncely.core;
    requires transitive com.rabbitmq.client;
    requires org.slf4j;

    exports dev.oncely.rabbitmq;
}
