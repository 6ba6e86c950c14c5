package dev.switchback.cli.bench.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ArrivalsTest {

    @Test
    void poissonGapsHaveTheRatesMeanAndAnExponentialsSpread() {
        Arrivals.Gaps gaps = Arrivals.POISSON.gaps(8, 42);
        int n = 200_000;
        double sum = 0;
        double sumSq = 0;
        int belowMean = 0;
        for (int i = 0; i < n; i++) {
            double g = gaps.nextNanos() / 1e9;
            sum += g;
            sumSq += g * g;
            belowMean += g < 0.125 ? 1 : 0;
        }
        double mean = sum / n;
        double sd = Math.sqrt(sumSq / n - mean * mean);
        assertEquals(0.125, mean, 0.125 * 0.01, "mean gap 1/rate");
        assertEquals(1.0, sd / mean, 0.02, "an exponential's coefficient of variation is 1");
        assertEquals(1 - Math.exp(-1), (double) belowMean / n, 0.005, "P(gap < mean) = 1 - 1/e");
    }

    @Test
    void constantGapsAreExactAndSeedsRepeat() {
        Arrivals.Gaps gaps = Arrivals.CONSTANT.gaps(4, 1);
        for (int i = 0; i < 10; i++) {
            assertEquals(250_000_000L, gaps.nextNanos());
        }
        Arrivals.Gaps a = Arrivals.POISSON.gaps(3, 7);
        Arrivals.Gaps b = Arrivals.POISSON.gaps(3, 7);
        for (int i = 0; i < 100; i++) {
            assertEquals(a.nextNanos(), b.nextNanos());
        }
    }

    @Test
    void loadsRefuseNonsense() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Load.Open(0, Arrivals.POISSON)).getMessage().startsWith("--rate"));
        assertThrows(IllegalArgumentException.class, () -> new Load.Open(Double.NaN, Arrivals.POISSON));
        assertThrows(IllegalArgumentException.class, () -> new Load.Open(Double.POSITIVE_INFINITY, Arrivals.CONSTANT));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Load.Closed(0)).getMessage().startsWith("--concurrency"));
        assertThrows(IllegalArgumentException.class, () -> new Slo(0, 10));
        assertThrows(IllegalArgumentException.class, () -> new Slo(10, -1));
    }
}
