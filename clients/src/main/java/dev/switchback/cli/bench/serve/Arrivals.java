package dev.switchback.cli.bench.serve;

import java.util.SplittableRandom;

/** The gaps between arrivals of an open load. */
public enum Arrivals {
    /** Exponential gaps (a Poisson process): bursts and lulls, as independent users make. */
    POISSON,
    /** Every gap exactly 1/rate. */
    CONSTANT;

    /** The gaps, in nanoseconds, of a process at {@code ratePerSecond}; seeded, so a run can be repeated. */
    public Gaps gaps(double ratePerSecond, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double meanNanos = 1e9 / ratePerSecond;
        return this == CONSTANT
                ? () -> Math.round(meanNanos)
                // Inverse CDF of the exponential; 1 - u lies in (0, 1], so the log is finite.
                : () -> Math.round(-Math.log(1 - random.nextDouble()) * meanNanos);
    }

    /** An endless sequence of gaps. */
    @FunctionalInterface
    public interface Gaps {
        long nextNanos();
    }
}
