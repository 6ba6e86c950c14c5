package dev.switchback.cli.bench.serve;

import org.HdrHistogram.Histogram;

/**
 * A latency distribution in nanoseconds: an HdrHistogram (3 significant digits) for the percentiles, with the
 * exact count, sum and extremes kept beside it.
 */
final class Latency {
    private final Histogram histogram = new Histogram(3);
    private long count;
    private double sumNanos;
    private long maxNanos;

    void record(long nanos) {
        long v = Math.max(0, nanos);
        histogram.recordValue(v);
        count++;
        sumNanos += v;
        maxNanos = Math.max(maxNanos, v);
    }

    /** The summary in milliseconds; percentiles are HdrHistogram's (within 0.1% of the true value). */
    Summary summary() {
        if (count == 0) {
            return Summary.EMPTY;
        }
        return new Summary(count, sumNanos / count / 1e6, ms(50), ms(90), ms(99), maxNanos / 1e6);
    }

    /** (latency in ms, fraction of values at or below it) for every distinct recorded bucket: the CDF to plot. */
    double[][] cdf() {
        double[] xs = new double[(int) Math.min(Integer.MAX_VALUE, histogram.getTotalCount())];
        double[] ys = new double[xs.length];
        int n = 0;
        long seen = 0;
        for (var v : histogram.recordedValues()) {
            seen += v.getCountAtValueIteratedTo();
            xs[n] = histogram.highestEquivalentValue(v.getValueIteratedTo()) / 1e6;
            ys[n] = (double) seen / count;
            n++;
        }
        return new double[][] {java.util.Arrays.copyOf(xs, n), java.util.Arrays.copyOf(ys, n)};
    }

    private double ms(double percentile) {
        // A percentile never reads above the true maximum, so p99 <= max holds exactly.
        return Math.min(histogram.getValueAtPercentile(percentile), maxNanos) / 1e6;
    }

    /** Mean, percentiles and maximum in milliseconds over {@code count} values. */
    record Summary(long count, double meanMs, double p50Ms, double p90Ms, double p99Ms, double maxMs) {
        static final Summary EMPTY = new Summary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }
}
