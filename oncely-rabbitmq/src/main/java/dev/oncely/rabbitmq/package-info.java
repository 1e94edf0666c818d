/**
 * RabbitMQ adapter: {@link dev.oncely.rabbitmq.IdempotentDeliverCallback} wraps an
 * {@link dev.oncely.IdempotentHandler} as a {@code DeliverCallback} that acknowledges after the database commit.
 */
package dev.oncely.rabbitmq;
