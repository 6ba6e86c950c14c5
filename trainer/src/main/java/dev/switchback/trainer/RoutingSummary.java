package dev.switchback.trainer;

import dev.switchback.trainer.model.ForwardPass;
import dev.switchback.trainer.model.Routing;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per sparse layer: the fraction of assignments each expert computed and the fraction dropped for capacity,
 * summed over Ladder passes.
 *
 * @param layers layer index → its counts
 */
public record RoutingSummary(Map<Integer, Layer> layers) {

    /** One layer's counts: assignments computed and dropped per expert. */
    public record Layer(long[] routed, long[] dropped) {
        /** Assignments (computed + dropped). */
        public long assignments() {
            long n = 0;
            for (int e = 0; e < routed.length; e++) {
                n += routed[e] + dropped[e];
            }
            return n;
        }

        /** Fraction of all assignments that each expert computed. */
        public double[] fractions() {
            double total = assignments();
            double[] f = new double[routed.length];
            for (int e = 0; e < f.length; e++) {
                f[e] = total == 0 ? 0 : routed[e] / total;
            }
            return f;
        }

        /** Fraction of assignments dropped for capacity. */
        public double droppedFraction() {
            long d = 0;
            for (long x : dropped) {
                d += x;
            }
            double total = assignments();
            return total == 0 ? 0 : d / total;
        }
    }

    /** Sums the routings of one forward pass. */
    public static RoutingSummary of(List<ForwardPass.LayerRouting> routings) {
        Map<Integer, Layer> layers = new TreeMap<>();
        for (ForwardPass.LayerRouting lr : routings) {
            Routing r = lr.routing();
            Layer acc = layers.computeIfAbsent(lr.layer(),
                    l -> new Layer(new long[r.plan().routed().length], new long[r.plan().routed().length]));
            for (int e = 0; e < acc.routed.length; e++) {
                acc.routed[e] += r.plan().routed()[e];
                acc.dropped[e] += r.plan().dropped()[e];
            }
        }
        return new RoutingSummary(layers);
    }

    /** Dropped fraction over all sparse layers. */
    public double droppedFraction() {
        long dropped = 0;
        long all = 0;
        for (Layer l : layers.values()) {
            all += l.assignments();
            for (long x : l.dropped) {
                dropped += x;
            }
        }
        return all == 0 ? 0 : (double) dropped / all;
    }
}
