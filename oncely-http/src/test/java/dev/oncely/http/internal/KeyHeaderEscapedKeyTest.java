package dev.oncely.http.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Keys with escapes take the parser's slower path; its limits are counted on the unescaped key, as without. */
class KeyHeaderEscapedKeyTest {

    @Test
    void anEscapedKeyIsLimitedBy255CharactersOnceUnescaped() {
        assertThat(KeyHeader.parse("\"" + "\\\"".repeat(255) + "\"")).isEqualTo(new KeyHeader.Key("\"".repeat(255)));
        assertThat(KeyHeader.parse("\"" + "\\\\".repeat(256) + "\""))
                .isEqualTo(new KeyHeader.Malformed("the key has 256 characters, more than 255"));
    }

    @Test
    void aKeyWithAnEscapeAndANonAsciiCharacterIsMalformed() {
        assertThat(KeyHeader.parse("\"a\\\"caf\u00e9\"")).isEqualTo(new KeyHeader.Malformed(
                "it contains a character outside printable ASCII (0x20-0x7E)"));
    }
}
