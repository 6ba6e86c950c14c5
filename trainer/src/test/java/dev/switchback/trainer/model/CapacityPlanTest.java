package dev.switchback.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CapacityPlanTest {

    @Test
    void capacityIsCeilOfTokensTimesKOverExpertsTimesFactor() {
        assertEquals(40, CapacityPlan.capacity(128, 1, 4, 1.25));
        assertEquals(3, CapacityPlan.capacity(10, 1, 4, 1.0));
        assertEquals(80, CapacityPlan.capacity(128, 2, 4, 1.25));
    }

    @Test
    void everyAssignmentIsComputedOrDroppedAndNoExpertExceedsCapacity() {
        SplittableRandom rng = new SplittableRandom(3);
        for (int trial = 0; trial < 200; trial++) {
            int experts = 2 + rng.nextInt(8);
            int k = 1 + rng.nextInt(Math.min(3, experts));
            int tokens = 1 + rng.nextInt(300);
            int[] expert = new int[tokens * k];
            for (int t = 0; t < tokens; t++) {
                // Skewed choices so that capacity binds; distinct experts per token.
                int first = rng.nextInt(4) == 0 ? rng.nextInt(experts) : 0;
                for (int j = 0; j < k; j++) {
                    expert[t * k + j] = (first + j) % experts;
                }
            }
            int capacity = CapacityPlan.capacity(tokens, k, experts, 0.5 + rng.nextDouble());
            CapacityPlan plan = CapacityPlan.assign(expert, k, experts, capacity);
            long[] keptPerExpert = new long[experts];
            for (int a = 0; a < expert.length; a++) {
                if (plan.kept()[a]) {
                    keptPerExpert[expert[a]]++;
                }
            }
            assertArrayEquals(keptPerExpert, plan.routed());
            long total = 0;
            for (int e = 0; e < experts; e++) {
                assertTrue(plan.routed()[e] <= capacity, "expert " + e + " over capacity");
                total += plan.routed()[e] + plan.dropped()[e];
                if (plan.dropped()[e] > 0) {
                    assertEquals(capacity, plan.routed()[e], "an expert drops only when full");
                }
            }
            assertEquals(expert.length, total);
        }
    }

    @Test
    void firstChoicesTakePriorityOverSecondChoices() {
        // Token 0 picks (1, 0); tokens 1 and 2 pick (0, 1). Capacity 2: expert 0 is filled by first choices.
        int[] expert = {1, 0, 0, 1, 0, 1};
        CapacityPlan plan = CapacityPlan.assign(expert, 2, 2, 2);
        assertTrue(plan.kept()[2]);
        assertTrue(plan.kept()[4]);
        assertFalse(plan.kept()[1], "token 0's second choice loses to the others' first choices");
        assertEquals(1, plan.dropped()[0]);
        assertEquals(1, plan.dropped()[1]);
    }

    @Test
    void unboundedCapacityDropsNothing() {
        CapacityPlan plan = CapacityPlan.assign(new int[] {0, 0, 0, 0, 1}, 1, 2, Integer.MAX_VALUE);
        assertEquals(0, plan.droppedTotal());
        assertArrayEquals(new long[] {4, 1}, plan.routed());
    }
}
