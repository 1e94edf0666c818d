package dev.oncely.jdbc.internal;

import dev.oncely.spi.ClaimResult;

/**
 * The share of duplicates among a store's recent claims, by which a dialect chooses how to claim: an exponential
 * moving average in 1/1024, each sample weighted 1/2^shift. Updated without synchronization: a lost update only
 * delays a switch by a claim or two.
 */
final class DuplicateShare {

    private static final int HALF = 512;

    private final int shift;
    private volatile int share;

    /** @param shift each sample weighs 1/2^shift (4: about the last 16 samples count) */
    DuplicateShare(int shift) {
        this.shift = shift;
    }

    /** Counts one sample: {@code duplicates} of {@code claims} claims were duplicates. */
    void note(int duplicates, int claims) {
        int recent = share;
        share = recent - (recent >> shift) + (int) ((long) duplicates * (1024 >> shift) / claims);
    }

    /** Counts one claim's answer and returns it. */
    ClaimResult noted(ClaimResult result) {
        note(result.claimed() ? 0 : 1, 1);
        return result;
    }

    /** Whether more than half of the recent claims were duplicates. */
    boolean mostlyDuplicates() {
        return share > HALF;
    }
}
