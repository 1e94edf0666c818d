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
        return checkText(() -> what, value, maxChars, howToFix);
    }

    /**
     * {@link #checkText(String, String, int, String)} whose subject is built only when the value is refused (a key's
     * subject names its message, whose {@code toString()} is not worth calling for every valid key).
     */
    public static String checkText(java.util.function.Supplier<String> subject, String value, int maxChars,
                                   String howToFix) {
        if (value == null) {
            throw new IllegalArgumentException(subject.get() + " is null. " + howToFix);
        }
        int problem = problemOf(value, maxChars);
        if (problem == OK) {
            return value;
        }
        String what = subject.get();
        switch (problem) {
            case BLANK -> throw new IllegalArgumentException(what + " is blank. " + howToFix);
            case TOO_LONG -> throw new IllegalArgumentException(what + " is " + value.codePointCount(0, value.length())
                    + " characters long; the limit is " + maxChars + " characters. " + howToFix
                    + " (hash a longer natural key, e.g. with SHA-256)");
            case NUL -> throw new IllegalArgumentException(what + " contains a NUL character at index "
                    + value.indexOf('\0') + ", which databases cannot store. " + howToFix);
            default -> throw new IllegalArgumentException(what + " contains an unpaired surrogate at index "
                    + firstUnpairedSurrogate(value) + ", which is not valid Unicode. " + howToFix);
        }
    }

    private static final int OK = 0;
    private static final int BLANK = 1;
    private static final int TOO_LONG = 2;
    private static final int NUL = 3;
    private static final int UNPAIRED_SURROGATE = 4;

    /**
     * One pass (keys are checked on every message): code points, blankness, the first NUL and the first unpaired
     * surrogate; reported in that order of importance.
     */
    private static int problemOf(String value, int maxChars) {
        int length = value.length();
        int codePoints = 0;
        boolean blank = true;
        int nul = -1;
        int unpaired = -1;
        for (int i = 0; i < length; i++) {
            char c = value.charAt(i);
            codePoints++;
            if (c < 0x80) {
                if (c == '\0' && nul < 0) {
                    nul = i;
                }
                if (blank && (c > ' ' || !Character.isWhitespace(c))) {
                    blank = false;
                }
                continue;
            }
            int codePoint = c;
            if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1))) {
                codePoint = Character.toCodePoint(c, value.charAt(++i));
            } else if (Character.isSurrogate(c) && unpaired < 0) {
                unpaired = i;
            }
            if (blank && !Character.isWhitespace(codePoint)) {
                blank = false;
            }
        }
        if (blank) {
            return BLANK;
        }
        if (codePoints > maxChars) {
            return TOO_LONG;
        }
        if (nul >= 0 && (unpaired < 0 || nul < unpaired)) {
            return NUL;
        }
        return unpaired >= 0 ? UNPAIRED_SURROGATE : OK;
    }

    private static int firstUnpairedSurrogate(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
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
