package dev.oncely;

import java.nio.charset.StandardCharsets;

/**
 * Turns a handler's result into bytes stored with the claim, and back, so that a duplicate delivery can be
 * answered with the first run's result. The encoded result is written in the same transaction as the claim.
 *
 * <p>{@link #decode} must accept everything {@link #encode} produced, including by earlier versions of your
 * application: a stored result that no longer decodes makes every later duplicate of that key fail with an
 * {@link OncelyException}.
 *
 * @param <R> the result type
 */
public interface ResultCodec<R> {

    byte[] encode(R result) throws Exception;

    R decode(byte[] stored) throws Exception;

    /** UTF-8 strings. */
    static ResultCodec<String> utf8() {
        return new ResultCodec<>() {
            @Override
            public byte[] encode(String result) {
                return result.getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public String decode(byte[] stored) {
                return new String(stored, StandardCharsets.UTF_8);
            }
        };
    }
}
