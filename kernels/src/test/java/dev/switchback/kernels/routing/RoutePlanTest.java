package dev.switchback.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RoutePlanTest {
    @Test
    void groupsKeptAssignmentsPerExpertInTokenOrder() {
        // 5 tokens, k = 1, 3 experts, capacity 2: token 3 (third request for expert 2) is dropped.
        RoutePlan plan = RoutePlan.plan(5, 1, 3, new int[] {2, 0, 2, 2, 0}, null, 2);
        assertArrayEquals(new boolean[] {true, true, true, false, true}, plan.kept());
        assertArrayEquals(new long[] {2, 0, 2}, plan.routed());
        assertArrayEquals(new long[] {0, 0, 1}, plan.dropped());
        assertArrayEquals(new int[] {0, 2, 2, 4}, plan.groupStart());
        assertArrayEquals(new int[] {1, 4, 0, 2}, plan.grouped());
        assertEquals(0, plan.groupSize(1));
        assertEquals(4, plan.assignment(0, 1));
        assertEquals(2, plan.assignment(2, 1));
        assertEquals(1, plan.droppedTotal());
        assertEquals(1f, plan.gate(3), "ungated plans (hash layers) weigh every expert output 1");
    }

    @Test
    void unboundedCapacityKeepsEverything() {
        int[] expert = new int[1000];
        for (int i = 0; i < expert.length; i++) {
            expert[i] = i % 7 == 0 ? 1 : 0;
        }
        RoutePlan plan = RoutePlan.plan(500, 2, 2, expert, new float[1000], Integer.MAX_VALUE);
        assertEquals(0, plan.droppedTotal());
        assertEquals(1000, plan.routed()[0] + plan.routed()[1]);
    }

    @Test
    void capacityIsTheCeilingOfTheFairShareTimesTheFactor() {
        assertEquals(3, RoutePlan.capacity(8, 1, 4, 1.25), "8/4·1.25 = 2.5 → 3");
        assertEquals(5, RoutePlan.capacity(10, 1, 4, 2.0), "exactly 5");
        assertEquals(1, RoutePlan.capacity(1, 1, 8, 1.0), "at least one slot for a lone token");
        assertEquals(8, RoutePlan.capacity(6, 2, 3, 2.0));
    }

    @Test
    void badAssignmentsAreRejected() {
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                () -> RoutePlan.plan(3, 2, 4, new int[5], null, 10));
        assertTrue(count.getMessage().contains("expected 6"), count.getMessage());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> RoutePlan.plan(2, 1, 4, new int[] {0, 4}, null, 10));
        assertTrue(range.getMessage().contains("assignment 1") && range.getMessage().contains("expert 4"), range.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RoutePlan.plan(1, 1, 4, new int[] {-1}, null, 10));
    }
}
