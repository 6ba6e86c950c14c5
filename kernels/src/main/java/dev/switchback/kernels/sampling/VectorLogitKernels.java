package dev.switchback.kernels.sampling;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link LogitKernels} with the Vector API; loaded only when its module is present. */
final class VectorLogitKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    // Same shape as F, so one float vector widens into exactly two of these.
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    private VectorLogitKernels() {}

    static float max(float[] x, int n) {
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = acc.max(FloatVector.fromArray(F, x, i)); // lane-wise Math.max: NaN wins, as in the scalar loop
        }
        float max = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        return max;
    }

    static int atLeast(float[] x, int n, double max, double scale, double cutoff, int[] out) {
        int half = D.length();
        int m = 0;
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, i);
            DoubleVector lo = ((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0)).sub(max).mul(scale);
            DoubleVector hi = ((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1)).sub(max).mul(scale);
            long lanes = lo.compare(VectorOperators.GE, cutoff).toLong()
                    | hi.compare(VectorOperators.GE, cutoff).toLong() << half;
            for (; lanes != 0; lanes &= lanes - 1) {
                out[m++] = i + Long.numberOfTrailingZeros(lanes);
            }
        }
        for (; i < n; i++) {
            if ((x[i] - max) * scale >= cutoff) {
                out[m++] = i;
            }
        }
        return m;
    }

    static double expSums(float[] x, int n, double max, double scale, double[] sums, double[] weights) {
        int half = D.length();
        double total = 0;
        for (int b = 0, start = 0; start < n; b++, start += LogitKernels.BLOCK) {
            int end = Math.min(n, start + LogitKernels.BLOCK);
            DoubleVector lo = DoubleVector.zero(D);
            DoubleVector hi = DoubleVector.zero(D);
            int i = start;
            for (int bound = start + F.loopBound(end - start); i < bound; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, i);
                DoubleVector wLo = exp((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0), max, scale);
                DoubleVector wHi = exp((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1), max, scale);
                if (weights != null) {
                    wLo.intoArray(weights, i);
                    wHi.intoArray(weights, i + half);
                }
                lo = lo.add(wLo);
                hi = hi.add(wHi);
            }
            double s = lo.add(hi).reduceLanes(VectorOperators.ADD);
            for (; i < end; i++) {
                double w = LogitKernels.weight(x[i], max, scale);
                if (weights != null) {
                    weights[i] = w;
                }
                s += w;
            }
            sums[b] = s;
            total += s;
        }
        return total;
    }

    private static DoubleVector exp(DoubleVector x, double max, double scale) {
        return x.sub(max).mul(scale).lanewise(VectorOperators.EXP);
    }
}
