package dev.oncely.http.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 digests for the filter's stored keys and fingerprints, cloned from one prototype: cloning skips the
 * provider lookup of {@code MessageDigest.getInstance}, which a request would otherwise pay two or three times.
 */
public final class Digests {

    private static final MessageDigest PROTOTYPE = create();
    private static final boolean CLONEABLE = cloneable();

    private Digests() {
    }

    /** A fresh SHA-256 digest. */
    public static MessageDigest sha256() {
        if (CLONEABLE) {
            try {
                return (MessageDigest) PROTOTYPE.clone();
            } catch (CloneNotSupportedException e) {
                // not reached: checked once below
            }
        }
        return create();
    }

    private static MessageDigest create() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static boolean cloneable() {
        try {
            PROTOTYPE.clone();
            return true;
        } catch (CloneNotSupportedException e) {
            return false;
        }
    }
}
