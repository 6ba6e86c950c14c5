package dev.switchback.kernels.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PlacementsTest {
    @Test
    void strategiesParseByTheirFlagsAndBadNamesListTheChoices() {
        for (PlacementStrategy s : PlacementStrategy.values()) {
            assertEquals(s, PlacementStrategy.parse(s.flag()));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlacementStrategy.parse("random"));
        assertEquals("expert placement must be one of round-robin, load, static-balanced; got 'random'", e.getMessage());
    }

    @Test
    void roundRobinPutsExpertEOnDeviceEModN() {
        LayerPlacement p = Placements.roundRobin(10, 4);
        for (int e = 0; e < 10; e++) {
            assertArrayEquals(new int[] {e % 4}, p.devicesOf(e));
        }
        assertArrayEquals(new int[] {3, 3, 2, 2}, p.expertsPerDevice());
        assertArrayEquals(new long[] {1 + 5 + 9, 2 + 6 + 10, 3 + 7, 4 + 8},
                p.deviceLoad(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    }

    @Test
    void badPlacementsAreRefusedNamingTheExpert() {
        assertEquals("expert 1 is placed on device 2 of 2", assertThrows(IllegalArgumentException.class,
                () -> new LayerPlacement(2, new int[][] {{0}, {2}})).getMessage());
        assertEquals("expert 0 has two replicas on device 1", assertThrows(IllegalArgumentException.class,
                () -> new LayerPlacement(2, new int[][] {{1, 1}})).getMessage());
        assertEquals("expert 0 is on no device", assertThrows(IllegalArgumentException.class,
                () -> new LayerPlacement(2, new int[][] {{}})).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Placements.roundRobin(4, 0));
        assertThrows(IllegalArgumentException.class, () -> Placements.load(new long[] {1, -1}, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> new LayerPlacement(2, new int[][] {{0}}).deviceLoad(new long[] {1, 2}));
    }

    @Test
    void replicaSharesCoverEveryTokenOnce() {
        for (int count = 0; count < 40; count++) {
            for (int r = 1; r <= 5; r++) {
                long sum = 0;
                for (int i = 0; i < r; i++) {
                    long share = LayerPlacement.share(count, r, i);
                    assertEquals(share, LayerPlacement.shareStart(count, r, i + 1) - LayerPlacement.shareStart(count, r, i));
                    assertTrue(share == count / r || share == count / r + 1, "near-equal shares");
                    sum += share;
                }
                assertEquals(count, sum);
            }
        }
    }

    /** One expert with 40% of the tokens: round-robin overloads its device; load replicates it and balances. */
    @Test
    void loadReplicatesAHotExpertAndBalancesTheDevices() {
        long[] tokens = new long[16];
        Arrays.fill(tokens, 1_000);
        tokens[3] = 10_000;
        long total = Arrays.stream(tokens).sum();
        double roundRobin = LayerPlacement.imbalance(Placements.roundRobin(16, 4).deviceLoad(tokens));
        LayerPlacement noSpare = Placements.load(tokens, 4, 0);
        LayerPlacement spare = Placements.load(tokens, 4, 4);
        assertEquals(1, noSpare.devicesOf(3).length);
        assertTrue(spare.devicesOf(3).length >= 3, "the hot expert gets copies: " + Arrays.toString(spare.devicesOf(3)));
        for (LayerPlacement p : new LayerPlacement[] {noSpare, spare}) {
            assertEquals(total, Arrays.stream(p.deviceLoad(tokens)).sum(), "every token computed once");
        }
        double without = LayerPlacement.imbalance(noSpare.deviceLoad(tokens));
        double with = LayerPlacement.imbalance(spare.deviceLoad(tokens));
        assertTrue(roundRobin > 1.5, "round-robin: " + roundRobin);
        // Without spare copies the hot expert still shares its device with three others (equal memory per device).
        assertTrue(without <= roundRobin, without + " vs round-robin " + roundRobin);
        assertTrue(with <= 1.04, "with replicas: " + with); // 6,500 of a 6,250 mean: four units per device
        for (int held : spare.expertsPerDevice()) {
            assertTrue(held <= 5, "memory stays balanced: " + Arrays.toString(spare.expertsPerDevice()));
        }
    }

    /** Without replicas the result is a partition within 4/3 of the best one (found here by brute force). */
    @Test
    void loadWithoutReplicasIsNearTheBestPartition() {
        SplittableRandom rng = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            int experts = 4 + rng.nextInt(5);
            int devices = 2 + rng.nextInt(2);
            long[] tokens = new long[experts];
            for (int e = 0; e < experts; e++) {
                tokens[e] = 1 + rng.nextInt(rng.nextBoolean() ? 100 : 1000);
            }
            LayerPlacement p = Placements.load(tokens, devices, 0);
            long peak = Arrays.stream(p.deviceLoad(tokens)).max().orElseThrow();
            long best = bestPeak(tokens, devices, (experts + devices - 1) / devices);
            assertTrue(peak * 3 <= best * 4, "trial " + trial + ": " + peak + " vs best " + best + " for " + Arrays.toString(tokens));
            for (int held : p.expertsPerDevice()) {
                assertTrue(held <= (experts + devices - 1) / devices);
            }
        }
    }

    private static long bestPeak(long[] tokens, int devices, int capacity) {
        int experts = tokens.length;
        long best = Long.MAX_VALUE;
        int[] assign = new int[experts];
        int combos = (int) Math.pow(devices, experts);
        for (int c = 0; c < combos; c++) {
            int x = c;
            long[] load = new long[devices];
            int[] held = new int[devices];
            boolean ok = true;
            for (int e = 0; e < experts; e++) {
                assign[e] = x % devices;
                x /= devices;
                load[assign[e]] += tokens[e];
                ok &= ++held[assign[e]] <= capacity;
            }
            if (ok) {
                best = Math.min(best, Arrays.stream(load).max().orElseThrow());
            }
        }
        return best;
    }

    /**
     * A random hash table over a Zipf-like token stream gives experts very different token mass; static-balanced,
     * knowing the table and the stream, evens the devices where round-robin cannot.
     */
    @Test
    void staticBalancedEvensTheDevicesOfAHashLayer() {
        int vocab = 4096;
        HashRouting table = HashRouting.build(Architecture.HashKind.random, 64, new long[vocab], 11);
        int[] calibration = zipf(vocab, 50_000, 1);
        int[] serving = zipf(vocab, 50_000, 2);
        long[] counts = Placements.hashCounts(table, calibration);
        assertEquals(calibration.length, Arrays.stream(counts).sum());
        long[] served = Placements.hashCounts(table, serving);
        for (int devices : new int[] {2, 4}) {
            double roundRobin = LayerPlacement.imbalance(Placements.roundRobin(64, devices).deviceLoad(served));
            LayerPlacement p = Placements.staticBalanced(table, calibration, devices);
            double balanced = LayerPlacement.imbalance(p.deviceLoad(served));
            assertTrue(balanced < roundRobin, devices + " devices: " + balanced + " vs round-robin " + roundRobin);
            assertTrue(LayerPlacement.imbalance(p.deviceLoad(counts)) < 1.01, "exact on the stream it was planned from");
            for (int held : p.expertsPerDevice()) {
                assertEquals(64 / devices, held, "no replicas: the same number of experts per device");
            }
        }
    }

    private static int[] zipf(int vocab, int n, long seed) {
        double[] cdf = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += 1.0 / (i + 1);
            cdf[i] = sum;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int at = Arrays.binarySearch(cdf, rng.nextDouble() * sum);
            out[i] = Math.min(vocab - 1, at < 0 ? -at - 1 : at);
        }
        return out;
    }
}
