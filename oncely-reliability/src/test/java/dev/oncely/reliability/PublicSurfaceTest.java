package dev.oncely.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oncely.IdempotentHandler;
import dev.oncely.http.IdempotencyFilter;
import dev.oncely.jdbc.JdbcDedupStore;
import dev.oncely.kafka.KafkaPollLoop;
import dev.oncely.micrometer.OncelyMetrics;
import dev.oncely.rabbitmq.IdempotentDeliverCallback;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The public surface the build enforces: each published module's descriptor exports its API packages to everyone
 * and its {@code internal} packages to Oncely's own modules only, so no type there is reachable from a user's
 * module (javac and the module system refuse it).
 */
class PublicSurfaceTest {

    private static final Map<String, Set<String>> API = Map.of(
            "dev.oncely.core", Set.of("dev.oncely", "dev.oncely.spi", "dev.oncely.inmemory"),
            "dev.oncely.jdbc", Set.of("dev.oncely.jdbc"),
            "dev.oncely.kafka", Set.of("dev.oncely.kafka"),
            "dev.oncely.micrometer", Set.of("dev.oncely.micrometer"),
            "dev.oncely.rabbitmq", Set.of("dev.oncely.rabbitmq"),
            "dev.oncely.http", Set.of("dev.oncely.http"));

    @Test
    void everyPublishedModuleExportsItsApiToEveryoneAndItsInternalsOnlyToOncelysOwnModules() throws Exception {
        Map<String, ModuleDescriptor> descriptors = new TreeMap<>();
        for (Class<?> type : new Class<?>[] {IdempotentHandler.class, JdbcDedupStore.class, KafkaPollLoop.class,
                IdempotentDeliverCallback.class, IdempotencyFilter.class, OncelyMetrics.class}) {
            ModuleDescriptor descriptor = descriptorOf(type);
            descriptors.put(descriptor.name(), descriptor);
        }
        assertThat(descriptors).containsOnlyKeys(API.keySet());

        for (ModuleDescriptor descriptor : descriptors.values()) {
            Set<String> toEveryone = new TreeSet<>();
            for (ModuleDescriptor.Exports export : descriptor.exports()) {
                if (export.isQualified()) {
                    assertThat(export.targets()).as(descriptor.name() + " exports " + export.source())
                            .allMatch(target -> target.startsWith("dev.oncely."));
                } else {
                    toEveryone.add(export.source());
                }
            }
            assertThat(toEveryone).as(descriptor.name() + "'s packages exported to everyone")
                    .containsExactlyInAnyOrderElementsOf(API.get(descriptor.name()))
                    .noneMatch(p -> p.contains("internal"));
            assertThat(descriptor.packages()).as(descriptor.name() + "'s packages")
                    .filteredOn(p -> !toEveryone.contains(p)).allMatch(p -> p.contains("internal"));
        }
    }

    @Test
    void theCoreModuleNeedsNothingButSlf4j() throws Exception {
        ModuleDescriptor core = descriptorOf(IdempotentHandler.class);
        assertThat(core.requires()).extracting(ModuleDescriptor.Requires::name)
                .containsExactlyInAnyOrder("java.base", "org.slf4j");
    }

    /** The descriptor of the module (its jar or classes directory) that {@code type} was loaded from. */
    private static ModuleDescriptor descriptorOf(Class<?> type) throws URISyntaxException {
        Path location = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleReference reference = ModuleFinder.of(location).findAll().iterator().next();
        ModuleDescriptor descriptor = reference.descriptor();
        assertThat(descriptor.isAutomatic()).as(location + " has a module-info.class").isFalse();
        return descriptor;
    }
}
