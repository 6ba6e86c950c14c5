package dev.switchback.cli.bench.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LatencyTest {

    /** Percentiles within HdrHistogram's 3 significant digits of the exact order statistics; mean and max exact. */
    @Test
    void summaryMatchesTheSortedValues() {
        SplittableRandom random = new SplittableRandom(3);
        long[] values = new long[10_000];
        Latency latency = new Latency();
        for (int i = 0; i < values.length; i++) {
            // Log-normal-ish latencies from 50 µs to about a second, in nanoseconds.
            values[i] = (long) (50_000 * Math.exp(random.nextDouble() * 10));
            latency.record(values[i]);
        }
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        Latency.Summary s = latency.summary();
        assertEquals(values.length, s.count());
        assertEquals(Arrays.stream(values).average().orElseThrow() / 1e6, s.meanMs(), 1e-9);
        assertEquals(sorted[sorted.length - 1] / 1e6, s.maxMs(), 1e-12);
        assertRelative(exact(sorted, 50) / 1e6, s.p50Ms());
        assertRelative(exact(sorted, 90) / 1e6, s.p90Ms());
        assertRelative(exact(sorted, 99) / 1e6, s.p99Ms());
        assertTrue(s.p50Ms() <= s.p90Ms() && s.p90Ms() <= s.p99Ms() && s.p99Ms() <= s.maxMs());
    }

    @Test
    void cdfRisesToOneOverTheRecordedValues() {
        Latency latency = new Latency();
        for (long v : new long[] {1_000_000, 2_000_000, 2_000_000, 8_000_000}) {
            latency.record(v);
        }
        double[][] cdf = latency.cdf();
        assertEquals(3, cdf[0].length, "one point per distinct value");
        assertEquals(0.25, cdf[1][0], 1e-12);
        assertEquals(0.75, cdf[1][1], 1e-12);
        assertEquals(1.0, cdf[1][2], 1e-12);
        assertRelative(8.0, cdf[0][2]);
    }

    @Test
    void anEmptyDistributionHasNoFigures() {
        Latency.Summary s = new Latency().summary();
        assertEquals(0, s.count());
        assertTrue(Double.isNaN(s.p50Ms()) && Double.isNaN(s.maxMs()));
    }

    // Nearest-rank percentile, the definition HdrHistogram follows.
    private static long exact(long[] sorted, double percentile) {
        int rank = (int) Math.ceil(percentile / 100 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    private static void assertRelative(double expected, double actual) {
        assertEquals(expected, actual, expected * 1e-3, "within 0.1%");
    }
}
