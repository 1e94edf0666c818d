package dev.oncely.spring;

import jakarta.persistence.EntityTransaction;
import org.springframework.orm.jpa.EntityManagerHolder;

/** Touches JPA types only when they are on the classpath (SpringConnectionOwner checks first). */
final class JpaRollback {

    private JpaRollback() {
    }

    /** Marks the JPA transaction of {@code holder}, if it is an active one, rollback-only. */
    static void markRollbackOnly(Object holder) {
        if (holder instanceof EntityManagerHolder emHolder && emHolder.getEntityManager() != null) {
            try {
                EntityTransaction tx = emHolder.getEntityManager().getTransaction();
                if (tx.isActive()) {
                    tx.setRollbackOnly();
                }
            } catch (IllegalStateException jta) {
                // A JTA EntityManager has no EntityTransaction: JTA marks its own transaction.
            }
        }
    }
}
