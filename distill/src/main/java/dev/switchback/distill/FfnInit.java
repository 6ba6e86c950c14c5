package dev.switchback.distill;

import java.util.Locale;

/** Where a student's FFN comes from when the teacher's block at that depth is a mixture of experts. */
public enum FfnInit {
    /** The element-wise mean of the experts' W₁ and of their W₂. */
    MEAN,
    /** Expert 0's weights. */
    EXPERT0;

    /** Parses {@code mean} or {@code expert0}; anything else fails naming {@code option}. */
    public static FfnInit parse(String option, String value) {
        return switch (value == null ? "" : value.toLowerCase(Locale.ROOT)) {
            case "mean" -> MEAN;
            case "expert0" -> EXPERT0;
            default -> throw new IllegalArgumentException(option + ": must be mean or expert0, got " + value);
        };
    }

    /** The spelling on the command line and in provenance. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
