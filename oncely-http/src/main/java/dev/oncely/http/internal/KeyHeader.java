package dev.oncely.http.internal;

/**
 * Parses the {@code Idempotency-Key} header: an RFC 8941 structured-field String ({@code "..."}, printable ASCII,
 * {@code \"} and {@code \\} escaped), 1 to {@value #MAX_LENGTH} characters once unescaped. No parameters.
 */
public final class KeyHeader {

    /** The longest key, in characters (Stripe's limit, and the store's). */
    public static final int MAX_LENGTH = 255;

    private KeyHeader() {
    }

    /** The parsed key, or why the header is malformed. */
    public sealed interface Parsed permits Key, Malformed {
    }

    public record Key(String value) implements Parsed {
    }

    public record Malformed(String reason) implements Parsed {
    }

    public static Parsed parse(String raw) {
        String s = raw.strip();
        if (s.isEmpty()) {
            return new Malformed("the header is empty");
        }
        if (s.charAt(0) != '"') {
            return new Malformed("the value is not in double quotes (a structured-field string is sent as \"value\")");
        }
        StringBuilder key = new StringBuilder();
        int i = 1;
        while (true) {
            if (i >= s.length()) {
                return new Malformed("the closing double quote is missing");
            }
            char c = s.charAt(i);
            if (c == '\\') {
                if (i + 1 >= s.length() || (s.charAt(i + 1) != '"' && s.charAt(i + 1) != '\\')) {
                    return new Malformed("a backslash may only escape \" or \\");
                }
                key.append(s.charAt(i + 1));
                i += 2;
            } else if (c == '"') {
                i++;
                break;
            } else if (c < 0x20 || c > 0x7e) {
                return new Malformed("it contains a character outside printable ASCII (0x20-0x7E)");
            } else {
                key.append(c);
                i++;
            }
        }
        if (i != s.length()) {
            return new Malformed("there is text after the closing double quote (parameters are not accepted)");
        }
        if (key.isEmpty() || key.toString().isBlank()) {
            return new Malformed("the key is empty or blank");
        }
        if (key.length() > MAX_LENGTH) {
            return new Malformed("the key has " + key.length() + " characters, more than " + MAX_LENGTH);
        }
        return new Key(key.toString());
    }
}
