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
        int close = s.indexOf('"', 1);
        if (close == s.length() - 1 && s.indexOf('\\') < 0) {
            // The common case, no escapes: the key is the text between the quotes.
            return checked(s, 1, close);
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
        String value = key.toString();
        return checked(value, 0, value.length());
    }

    /** The key {@code text[from, to)}, unescaped, if it is printable ASCII, not blank and not too long. */
    private static Parsed checked(String text, int from, int to) {
        boolean blank = true;
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return new Malformed("it contains a character outside printable ASCII (0x20-0x7E)");
            }
            blank &= c == ' ';
        }
        if (blank) {
            return new Malformed("the key is empty or blank");
        }
        int length = to - from;
        if (length > MAX_LENGTH) {
            return new Malformed("the key has " + length + " characters, more than " + MAX_LENGTH);
        }
        return new Key(text.substring(from, to));
    }
}
