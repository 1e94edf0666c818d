package dev.oncely.internal;

import java.util.regex.Pattern;

/** Input checks shared by the handler and the stores. Messages say what was wrong and how to fix it. */
public final class Validation {

    /** SQL identifiers we accept for table and schema names: letters, digits, underscore, not starting with a digit. */
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private Validation() {
    }

    /**
     * Checks a key or consumer name: not null, not blank, at most {@code maxChars} characters (Unicode code
     * points, as the databases count them), no NUL and no unpaired surrogate (neither can be stored).
     */
    public static String checkText(String what, String value, int maxChars, String howToFix) {
        if (value == null) {
            throw new IllegalArgumentException(what + " is null. " + howToFix);
        }
        if (value.isBlank()) {
            throw new IllegalArgumentException(what + " is blank. " + howToFix);
        }
        int codePoints = value.codePointCount(0, value.length());
        if (codePoints > maxChars) {
            throw new IllegalArgumentException(what + " is " + codePoints + " characters long; the limit is "
                    + maxChars + " characters. " + howToFix + " (hash a longer natural key, e.g. with SHA-256)");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\0') {
                throw new IllegalArgumentException(what + " contains a NUL character at index " + i
                        + ", which databases cannot store. " + howToFix);
            }
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                    i++;
                    continue;
                }
                throw new IllegalArgumentException(what + " contains an unpaired surrogate at index " + i
                        + ", which is not valid Unicode. " + howToFix);
            }
            if (Character.isLowSurrogate(c)) {
                throw new IllegalArgumentException(what + " contains an unpaired surrogate at index " + i
                        + ", which is not valid Unicode. " + howToFix);
            }
        }
        return value;
    }

    /** Checks a table or schema name that goes into SQL text. */
    public static String checkIdentifier(String what, String value, int maxLength) {
        if (value == null || !IDENTIFIER.matcher(value).matches() || value.length() > maxLength) {
            throw new IllegalArgumentException(what + " '" + value + "' is not allowed: use 1 to " + maxLength
                    + " letters, digits or underscores, not starting with a digit (it is written into SQL, so"
                    + " quotes, dots, spaces and other characters are refused).");
        }
        return value;
    }
}
