package dev.switchback.kernels.placement;

import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntFunction;

/** Plans where a sparse layer's experts go, one method per {@link PlacementStrategy}. */
public final class Placements {
    /** Swap passes after the greedy placement; each pass moves load off the busiest device or stops. */
    private static final int MAX_SWAP_PASSES = 1000;

    private Placements() {}

    /** One placement per block of {@code config}: {@code place} of the block for each sparse block, null for dense ones. */
    public static LayerPlacement[] everySparseBlock(ModelConfig config, IntFunction<LayerPlacement> place) {
        LayerPlacement[] out = new LayerPlacement[config.layers()];
        for (int l = 0; l < out.length; l++) {
            out[l] = config.architecture().isSparseLayer(l) ? place.apply(l) : null;
        }
        return out;
    }

    /** Expert e on device e mod {@code devices}. */
    public static LayerPlacement roundRobin(int experts, int devices) {
        checkDevices(devices, experts);
        int[][] replicas = new int[experts][];
        for (int e = 0; e < experts; e++) {
            replicas[e] = new int[] {e % devices};
        }
        return new LayerPlacement(devices, replicas);
    }

    /**
     * The {@code load} strategy: from measured token counts, {@code spareReplicas} extra copies go to the experts
     * with the most tokens per copy (never more copies than devices), then the copies are placed greedily, largest
     * share first, each on the least loaded device that has room and no copy of the same expert, and pairs are
     * swapped between the busiest device and the others while that lowers the busiest device's load. Every device
     * holds at most ⌈(experts + spare) / devices⌉ experts, so memory stays balanced too.
     */
    public static LayerPlacement load(long[] tokens, int devices, int spareReplicas) {
        checkDevices(devices, tokens.length);
        if (spareReplicas < 0) {
            throw new IllegalArgumentException("spare replicas must be >= 0, got " + spareReplicas);
        }
        for (long t : tokens) {
            if (t < 0) {
                throw new IllegalArgumentException("token counts must be >= 0");
            }
        }
        int experts = tokens.length;
        int[] copies = new int[experts];
        java.util.Arrays.fill(copies, 1);
        for (int s = 0; s < spareReplicas; s++) {
            int hottest = -1;
            for (int e = 0; e < experts; e++) {
                if (copies[e] < devices && (hottest < 0 || tokens[e] * copies[hottest] > tokens[hottest] * copies[e])) {
                    hottest = e;
                }
            }
            if (hottest < 0 || tokens[hottest] == 0) {
                break;
            }
            copies[hottest]++;
        }
        return partition(tokens, copies, devices);
    }

    /**
     * The {@code static-balanced} strategy for Hash Layers: each expert's token mass is what the fixed table gives
     * {@code sample} (token ids of the serving corpus, routed with their own predecessors), and the experts are
     * partitioned over the devices to equalise it.
     */
    public static LayerPlacement staticBalanced(HashRouting table, int[] sample, int devices) {
        return load(hashCounts(table, sample), devices, 0);
    }

    /** Tokens of {@code sample} each expert of {@code table} receives. */
    public static long[] hashCounts(HashRouting table, int[] sample) {
        long[] counts = new long[table.experts()];
        for (int e : table.route(sample)) {
            counts[e]++;
        }
        return counts;
    }

    private record Unit(int expert, long share) {}

    private static LayerPlacement partition(long[] tokens, int[] copies, int devices) {
        int experts = tokens.length;
        List<Unit> units = new ArrayList<>();
        for (int e = 0; e < experts; e++) {
            for (int i = 0; i < copies[e]; i++) {
                units.add(new Unit(e, LayerPlacement.share(tokens[e], copies[e], i)));
            }
        }
        units.sort(Comparator.comparingLong(Unit::share).reversed().thenComparingInt(Unit::expert));
        int capacity = (units.size() + devices - 1) / devices;
        long[] load = new long[devices];
        List<List<Unit>> held = new ArrayList<>();
        for (int d = 0; d < devices; d++) {
            held.add(new ArrayList<>());
        }
        for (Unit u : units) {
            int best = -1;
            for (int d = 0; d < devices; d++) {
                if (held.get(d).size() < capacity && !holds(held.get(d), u.expert()) && (best < 0 || load[d] < load[best])) {
                    best = d;
                }
            }
            if (best < 0) { // every device with room already holds this expert: exceed the room, never duplicate
                for (int d = 0; d < devices; d++) {
                    if (!holds(held.get(d), u.expert()) && (best < 0 || load[d] < load[best])) {
                        best = d;
                    }
                }
            }
            held.get(best).add(u);
            load[best] += u.share();
        }
        for (int pass = 0; pass < MAX_SWAP_PASSES && improve(held, load, capacity); pass++) {
            // each pass lowers the busiest device's load or the number of devices at that load
        }
        int[][] replicas = new int[experts][];
        int[] filled = new int[experts];
        for (int e = 0; e < experts; e++) {
            replicas[e] = new int[copies[e]];
        }
        for (int d = 0; d < devices; d++) {
            for (Unit u : held.get(d)) {
                replicas[u.expert()][filled[u.expert()]++] = d;
            }
        }
        return new LayerPlacement(devices, replicas);
    }

    /**
     * One improvement: the move or swap between the busiest device and another that most lowers the larger of
     * the two loads below the busiest device's load; false when none does.
     */
    private static boolean improve(List<List<Unit>> held, long[] load, int capacity) {
        int busiest = 0;
        for (int d = 1; d < load.length; d++) {
            if (load[d] > load[busiest]) {
                busiest = d;
            }
        }
        long bestPeak = load[busiest];
        int bestOther = -1;
        Unit bestOut = null;
        Unit bestIn = null;
        List<Unit> from = held.get(busiest);
        for (int d = 0; d < load.length; d++) {
            if (d == busiest) {
                continue;
            }
            List<Unit> to = held.get(d);
            for (Unit out : from) {
                if (holds(to, out.expert())) {
                    continue;
                }
                if (to.size() < capacity) {
                    long peak = Math.max(load[busiest] - out.share(), load[d] + out.share());
                    if (peak < bestPeak) {
                        bestPeak = peak;
                        bestOther = d;
                        bestOut = out;
                        bestIn = null;
                    }
                }
                for (Unit in : to) {
                    if (in.share() >= out.share() || holds(from, in.expert())) {
                        continue;
                    }
                    long delta = out.share() - in.share();
                    long peak = Math.max(load[busiest] - delta, load[d] + delta);
                    if (peak < bestPeak) {
                        bestPeak = peak;
                        bestOther = d;
                        bestOut = out;
                        bestIn = in;
                    }
                }
            }
        }
        if (bestOut == null) {
            return false;
        }
        List<Unit> to = held.get(bestOther);
        from.remove(bestOut);
        to.add(bestOut);
        load[busiest] -= bestOut.share();
        load[bestOther] += bestOut.share();
        if (bestIn != null) {
            to.remove(bestIn);
            from.add(bestIn);
            load[bestOther] -= bestIn.share();
            load[busiest] += bestIn.share();
        }
        return true;
    }

    private static boolean holds(List<Unit> units, int expert) {
        for (Unit u : units) {
            if (u.expert() == expert) {
                return true;
            }
        }
        return false;
    }

    private static void checkDevices(int devices, int experts) {
        if (devices < 1) {
            throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        }
        if (experts < 1) {
            throw new IllegalArgumentException("a placement needs at least one expert");
        }
    }
}
