package dev.oncely.spring.kafka;

import org.springframework.data.jpa.repository.JpaRepository;

/** Spring Data JPA repository of the batch listener's business rows. */
public interface KafkaOrderRepository extends JpaRepository<KafkaOrder, Long> {
}
