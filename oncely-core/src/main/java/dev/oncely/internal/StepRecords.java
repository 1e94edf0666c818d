package dev.oncely.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The recorded steps of a leased run as the bytes a store keeps: a version byte, the count, then per step its name
 * (modified UTF-8) and its value (length, -1 for a step without a value, then the bytes), in completion order.
 */
public final class StepRecords {

    private static final int VERSION = 1;
    /** A recorded step without a value (a void step, or a null value). */
    public static final byte[] NO_VALUE = new byte[0];

    private StepRecords() {
    }

    public static byte[] encode(Map<String, byte[]> steps) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            out.writeInt(steps.size());
            for (Map.Entry<String, byte[]> step : steps.entrySet()) {
                out.writeUTF(step.getKey());
                byte[] value = step.getValue();
                if (value == NO_VALUE) {
                    out.writeInt(-1);
                } else {
                    out.writeInt(value.length);
                    out.write(value);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The steps in completion order; {@link #NO_VALUE} for those without a value. */
    public static Map<String, byte[]> decode(Optional<byte[]> stored) {
        if (stored.isEmpty() || stored.get().length == 0) {
            return new LinkedHashMap<>();
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(stored.get()))) {
            int version = in.readUnsignedByte();
            if (version != VERSION) {
                throw new IllegalArgumentException("recorded steps of format version " + version + ", this version"
                        + " of Oncely reads version " + VERSION);
            }
            int count = in.readInt();
            Map<String, byte[]> steps = new LinkedHashMap<>(Math.max(4, count * 2));
            for (int i = 0; i < count; i++) {
                String name = in.readUTF();
                int length = in.readInt();
                byte[] value = NO_VALUE;
                if (length >= 0) {
                    value = new byte[length];
                    in.readFully(value);
                }
                steps.put(name, value);
            }
            return steps;
        } catch (IOException e) {
            throw new IllegalArgumentException("recorded steps are corrupt: " + e, e);
        }
    }
}
