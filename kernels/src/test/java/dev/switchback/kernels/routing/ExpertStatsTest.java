package dev.switchback.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExpertStatsTest {
    @Test
    void accumulatesRoutedDroppedAndTimePerLayerAndExpert() {
        ExpertStats stats = new ExpertStats(2, 3);
        RoutePlan plan = RoutePlan.plan(5, 1, 3, new int[] {2, 0, 2, 2, 0}, null, 2);
        stats.record(1, plan);
        stats.record(1, plan);
        stats.record(0, RoutePlan.plan(2, 1, 3, new int[] {1, 1}, null, 10));
        assertEquals(4, stats.routed(1, 0));
        assertEquals(0, stats.routed(1, 1));
        assertEquals(4, stats.routed(1, 2));
        assertEquals(2, stats.dropped(1, 2));
        assertEquals(0, stats.dropped(1, 0));
        assertEquals(2, stats.routed(0, 1), "layers are counted apart");
        assertEquals(0, stats.routed(0, 2));
        stats.addComputeNanos(0, 2, 150);
        stats.addComputeNanos(0, 2, 50);
        assertEquals(200, stats.computeNanos(0, 2));
        assertEquals(0, stats.computeNanos(1, 2));
        assertEquals(2, stats.layers());
        assertEquals(3, stats.experts());
    }

    @Test
    void concurrentWritersLoseNothing() throws InterruptedException {
        ExpertStats stats = new ExpertStats(1, 2);
        RoutePlan plan = RoutePlan.plan(3, 1, 2, new int[] {0, 1, 1}, null, 1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int n = 0; n < 10_000; n++) {
                    stats.record(0, plan);
                    stats.addComputeNanos(0, 1, 3);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(40_000, stats.routed(0, 0));
        assertEquals(40_000, stats.routed(0, 1));
        assertEquals(40_000, stats.dropped(0, 1));
        assertEquals(120_000, stats.computeNanos(0, 1));
    }

    @Test
    void aDenseModelStillHasOneColumn() {
        ExpertStats stats = new ExpertStats(4, 0);
        assertEquals(1, stats.experts());
        assertEquals(0, stats.routed(3, 0));
    }
}
