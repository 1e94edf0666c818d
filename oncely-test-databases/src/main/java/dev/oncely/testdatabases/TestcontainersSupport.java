package dev.oncely.testdatabases;

import java.lang.reflect.Method;
import java.util.List;
import java.util.Optional;

/**
 * Starts a Testcontainers database when the library is on the classpath and a Docker engine answers. Done by
 * reflection so that the module works without Testcontainers (it is an optional dependency).
 */
final class TestcontainersSupport {

    private TestcontainersSupport() {
    }

    static Optional<TestDatabase> start(String kind, String containerClass, String image, List<String> tried) {
        Class<?> factory;
        try {
            factory = Class.forName("org.testcontainers.DockerClientFactory");
        } catch (ClassNotFoundException e) {
            tried.add("Testcontainers is not on the classpath");
            return Optional.empty();
        }
        try {
            Object instance = factory.getMethod("instance").invoke(null);
            boolean available = (Boolean) factory.getMethod("isDockerAvailable").invoke(instance);
            if (!available) {
                tried.add("Testcontainers found no Docker engine");
                return Optional.empty();
            }
            Class<?> type = Class.forName(containerClass);
            Object container = type.getConstructor(String.class).newInstance(image);
            type.getMethod("start").invoke(container);
            Method url = type.getMethod("getJdbcUrl");
            Method user = type.getMethod("getUsername");
            Method password = type.getMethod("getPassword");
            return Optional.of(new TestDatabase(kind, (String) url.invoke(container), (String) user.invoke(container),
                    (String) password.invoke(container), "Testcontainers " + image));
        } catch (ClassNotFoundException e) {
            tried.add("Testcontainers module for " + kind + " (" + containerClass + ") is not on the classpath");
            return Optional.empty();
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            tried.add("Testcontainers could not start " + image + ": " + cause);
            return Optional.empty();
        }
    }
}
