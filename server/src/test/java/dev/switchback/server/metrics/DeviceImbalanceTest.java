package dev.switchback.server.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.routing.ExpertStats;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code switchback_device_load_imbalance}: for a model whose experts are spread over several devices, the busiest
 * device's expert tokens over the mean in the window, an expert with copies splitting its tokens between them; absent
 * for a model on one device.
 */
class DeviceImbalanceTest {
    /** Experts 0, 1 on cuda:0, expert 2 on both, expert 3 on cuda:1. */
    private static String device(int layer, int expert) {
        return switch (expert) {
            case 0, 1 -> "cuda:0";
            case 2 -> "cuda:0,cuda:1";
            default -> "cuda:1";
        };
    }

    @Test
    void labelsGiveThePlacementAndOneDeviceGivesNone() {
        LayerPlacement p = ModelMetrics.placement(1, 4, DeviceImbalanceTest::device);
        assertEquals(2, p.devices());
        assertArrayEquals(new int[] {0, 1}, p.devicesOf(2));
        assertArrayEquals(new int[] {1}, p.devicesOf(3));
        assertNull(ModelMetrics.placement(1, 4, (l, e) -> "cpu"));
    }

    @Test
    void theGaugeSplitsCopiedExpertsAndFollowsTheWindow() {
        ExpertLoadWindow w = new ExpertLoadWindow(1, 4, 2);
        LayerPlacement p = ModelMetrics.placement(1, 4, DeviceImbalanceTest::device);
        assertTrue(Double.isNaN(w.deviceImbalance(0, p)));
        w.add(new long[] {2, 2, 8, 0}); // cuda:0 computes 2 + 2 + 4, cuda:1 the other 4 of expert 2
        assertEquals(8 / 6.0, w.deviceImbalance(0, p), 1e-12);
        w.add(new long[] {0, 0, 0, 4}); // cuda:1 gets 4 more: 8 and 8
        assertEquals(1.0, w.deviceImbalance(0, p), 1e-12);
    }

    @Test
    void aShardedModelExportsItAndAOneDeviceModelDoesNot() {
        PrometheusRegistry registry = new PrometheusRegistry();
        ServingMetrics families = new ServingMetrics(registry);
        ModelMetrics sharded = families.forModel("sharded", List.of(1), 4, DeviceImbalanceTest::device,
                Map.of("cuda:0", 1L, "cuda:1", 1L));
        ModelMetrics single = families.forModel("single", List.of(1), 4);
        ExpertStats stats = new ExpertStats(2, 4);
        sharded.baseline(stats);
        single.baseline(stats);
        long[] routed = {6, 0, 4, 2};
        for (int e = 0; e < 4; e++) {
            stats.setTotals(1, e, routed[e], 0);
        }
        sharded.step(3, stats);
        single.step(3, stats);
        String text = PrometheusTextFormatWriter.create().toDebugString(registry.scrape());
        // cuda:0: 6 + 2 = 8; cuda:1: 2 + 2 = 4; mean 6.
        assertTrue(text.contains("switchback_device_load_imbalance{layer=\"1\",model=\"sharded\"} 1.3333333333333333"), text);
        assertFalse(text.contains("switchback_device_load_imbalance{layer=\"1\",model=\"single\"}"), text);
    }
}
