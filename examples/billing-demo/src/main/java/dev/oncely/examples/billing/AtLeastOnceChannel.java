package dev.oncely.examples.billing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A simulated at-least-once channel, like a broker between a producer and several consumers.
 *
 * <p>With probability {@code blipRate} a network blip swallows the acknowledgement of a message, so the producer
 * retries and the message is delivered again: right behind the first copy (another consumer handles it at the
 * same time) or up to a thousand messages later. The blips are drawn up front from the seed, so the same seed
 * gives exactly the same deliveries, whichever consumer reads them.
 *
 * <p>A consumer that fails on a message calls {@link #nack}: the message is delivered again, as a broker would.
 */
public final class AtLeastOnceChannel {

    /** One delivery of an event; {@code redelivery} is true for every copy after the first. */
    public record Delivery(ChargeEvent event, boolean redelivery, int attempt) {
    }

    private record Scheduled(double position, Delivery delivery) {
    }

    private final List<ChargeEvent> events;
    private final List<Delivery> schedule;
    private final AtomicInteger next = new AtomicInteger();
    private final ConcurrentLinkedQueue<Delivery> nacked = new ConcurrentLinkedQueue<>();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong redelivered = new AtomicLong();

    public AtLeastOnceChannel(int eventCount, double blipRate, long seed) {
        Random random = new Random(seed);
        int customers = Math.max(1, eventCount / 10);
        List<ChargeEvent> produced = new ArrayList<>(eventCount);
        List<Scheduled> scheduled = new ArrayList<>(eventCount + eventCount / 100);
        for (int i = 0; i < eventCount; i++) {
            ChargeEvent event = new ChargeEvent(String.format("evt-%08d", i),
                    String.format("customer-%06d", random.nextInt(customers)), 100 + random.nextInt(9_900));
            produced.add(event);
            scheduled.add(new Scheduled(i, new Delivery(event, false, 1)));
            double position = i;
            while (random.nextDouble() < blipRate) { // a redelivery's ack can be lost too
                position += random.nextBoolean() ? random.nextInt(3) : random.nextInt(1_000);
                scheduled.add(new Scheduled(position + 0.5, new Delivery(event, true, 1)));
            }
        }
        scheduled.sort(Comparator.comparingDouble(Scheduled::position)); // stable: equal positions keep their order
        this.events = List.copyOf(produced);
        this.schedule = scheduled.stream().map(Scheduled::delivery).toList();
    }

    /** The next delivery, or null once every message was delivered and acknowledged. */
    public Delivery poll() {
        Delivery delivery = nacked.poll();
        if (delivery == null) {
            int index = next.getAndIncrement();
            if (index >= schedule.size()) {
                return null;
            }
            delivery = schedule.get(index);
        }
        delivered.incrementAndGet();
        if (delivery.redelivery()) {
            redelivered.incrementAndGet();
        }
        return delivery;
    }

    /** The consumer failed on this delivery: deliver it again. */
    public void nack(Delivery delivery) {
        nacked.add(new Delivery(delivery.event(), true, delivery.attempt() + 1));
    }

    /** Every event the producer sent, once each. */
    public List<ChargeEvent> events() {
        return events;
    }

    /** How many deliveries the channel will make if no consumer fails. */
    public int scheduledDeliveries() {
        return schedule.size();
    }

    public long delivered() {
        return delivered.get();
    }

    public long redelivered() {
        return redelivered.get();
    }
}
