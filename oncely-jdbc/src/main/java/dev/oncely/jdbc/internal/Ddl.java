package dev.oncely.jdbc.internal;

import dev.oncely.MisconfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/** Oncely's DDL resources: reading them from the classpath, and splitting them into statements. */
public final class Ddl {

    private Ddl() {
    }

    /** The text of a DDL resource of oncely-jdbc, e.g. {@code dev/oncely/jdbc/postgresql.sql}. */
    public static String read(String resource) {
        try (InputStream in = Ddl.class.getResourceAsStream("/" + resource)) {
            if (in == null) {
                throw new MisconfigurationException("The DDL resource " + resource + " is missing from the"
                        + " classpath: is the oncely-jdbc jar complete?");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Splits a DDL file into statements: drops comment lines, splits on semicolons at line ends. */
    public static List<String> statements(String ddl) {
        StringBuilder sb = new StringBuilder();
        for (String line : ddl.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            sb.append(line).append('\n');
        }
        return Arrays.stream(sb.toString().split(";\\s*\n"))
                .map(String::strip)
                .map(s -> s.endsWith(";") ? s.substring(0, s.length() - 1) : s)
                .filter(s -> !s.isEmpty())
                .toList();
    }
}
