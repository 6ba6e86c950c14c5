package dev.switchback.cli.bench;

import java.util.Arrays;

/** Median and range of repeated measurements, for benchmarks that report a run's spread with its figure. */
public final class Spread {
    private Spread() {}

    public static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    public static double min(double[] values) {
        return Arrays.stream(values).min().orElse(Double.NaN);
    }

    public static double max(double[] values) {
        return Arrays.stream(values).max().orElse(Double.NaN);
    }
}
