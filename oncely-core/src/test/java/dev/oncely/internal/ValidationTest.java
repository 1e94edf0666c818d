package dev.oncely.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The one-pass key check says the same as String.isBlank, codePointCount and a scan for NUL and lone surrogates. */
class ValidationTest {

    private static String check(String value, int max) {
        return Validation.checkText("The key", value, max, "Fix it.");
    }

    @Test
    void acceptsKeysUpToTheLimitInCodePoints() {
        assertThat(check("evt-1", 5)).isEqualTo("evt-1");
        assertThat(check("\uD83D\uDE00".repeat(3), 3)).as("a surrogate pair is one character").hasSize(6);
        assertThat(check(" a ", 3)).isEqualTo(" a ");
        assertThat(check("\u00A0", 1)).as("no-break space is not whitespace, as for String.isBlank").isNotNull();
        assertThat(check("é日本", 3)).isNotNull();
    }

    @Test
    void rejectsNullBlankAndTooLongWithWhatToDo() {
        assertThatThrownBy(() -> check(null, 5)).hasMessage("The key is null. Fix it.");
        for (String blank : new String[] {"", " ", "\t\n", "\u2003", " \u3000 "}) {
            assertThatThrownBy(() -> check(blank, 5)).as("'%s'", blank).hasMessage("The key is blank. Fix it.");
        }
        assertThatThrownBy(() -> check("abcdef", 5)).hasMessageStartingWith("The key is 6 characters long; the limit is 5")
                .hasMessageContaining("SHA-256");
        assertThatThrownBy(() -> check("\uD83D\uDE00".repeat(4), 3)).hasMessageStartingWith("The key is 4 characters");
    }

    @Test
    void rejectsTheFirstNulOrUnpairedSurrogateByIndex() {
        assertThatThrownBy(() -> check("\0", 5)).hasMessageContaining("NUL character at index 0");
        assertThatThrownBy(() -> check("ab\0c\uD800", 5)).hasMessageContaining("NUL character at index 2");
        assertThatThrownBy(() -> check("a\uD800b\0", 5)).hasMessageContaining("unpaired surrogate at index 1");
        assertThatThrownBy(() -> check("ab\uDC00", 5)).hasMessageContaining("unpaired surrogate at index 2");
        assertThatThrownBy(() -> check("ab\uD800", 5)).hasMessageContaining("unpaired surrogate at index 2");
        assertThatThrownBy(() -> check("\uDE00\uD83D", 5)).hasMessageContaining("unpaired surrogate at index 0");
    }
}
