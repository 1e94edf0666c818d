package dev.oncely.http.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KeyHeaderTest {

    @Test
    void aQuotedStringIsTheKeyWithItsEscapesResolved() {
        assertThat(KeyHeader.parse("\"8e03978e-40d5\"")).isEqualTo(new KeyHeader.Key("8e03978e-40d5"));
        assertThat(KeyHeader.parse("  \"a \\\"b\\\" \\\\ c\" ")).isEqualTo(new KeyHeader.Key("a \"b\" \\ c"));
    }

    @Test
    void aKeyOf255CharactersIsAcceptedAnd256AreNot() {
        assertThat(KeyHeader.parse("\"" + "x".repeat(255) + "\"")).isInstanceOf(KeyHeader.Key.class);
        assertThat(KeyHeader.parse("\"" + "x".repeat(256) + "\""))
                .isEqualTo(new KeyHeader.Malformed("the key has 256 characters, more than 255"));
    }

    @Test
    void everythingThatIsNotOneStructuredFieldStringIsMalformedWithItsReason() {
        assertThat(KeyHeader.parse("abc")).isEqualTo(new KeyHeader.Malformed(
                "the value is not in double quotes (a structured-field string is sent as \"value\")"));
        assertThat(KeyHeader.parse("\"abc")).isEqualTo(new KeyHeader.Malformed("the closing double quote is missing"));
        assertThat(KeyHeader.parse("\"a\\bc\"")).isEqualTo(new KeyHeader.Malformed("a backslash may only escape \" or \\"));
        assertThat(KeyHeader.parse("\"abc\";x=1")).isEqualTo(new KeyHeader.Malformed(
                "there is text after the closing double quote (parameters are not accepted)"));
        assertThat(KeyHeader.parse("\"caf\u00e9\"")).isEqualTo(new KeyHeader.Malformed(
                "it contains a character outside printable ASCII (0x20-0x7E)"));
        assertThat(KeyHeader.parse("\"  \"")).isEqualTo(new KeyHeader.Malformed("the key is empty or blank"));
        assertThat(KeyHeader.parse("")).isEqualTo(new KeyHeader.Malformed("the header is empty"));
    }
}
