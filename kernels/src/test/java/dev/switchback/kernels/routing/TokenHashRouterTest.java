package dev.switchback.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture.HashKind;
import dev.switchback.store.model.HashRouting;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TokenHashRouterTest {
    private static final int VOCAB = 50;

    private static int[] randomIds(Random r, int n) {
        return r.ints(n, 0, VOCAB).toArray();
    }

    @Test
    void tableRoutingDependsOnlyOnTheTokenId() {
        HashRouting table = HashRouting.build(HashKind.random, 4, new long[VOCAB], 7);
        TokenHashRouter router = new TokenHashRouter(table);
        assertEquals(4, router.experts());
        Random r = new Random(1);
        int[] ids = randomIds(r, 300);
        RoutePlan a = router.route(ids, randomIds(r, 300));
        RoutePlan b = router.route(ids, randomIds(r, 300));
        assertArrayEquals(a.expert(), b.expert(), "the previous token does not matter for a table");
        for (int t = 0; t < ids.length; t++) {
            assertEquals(table.table()[ids[t]], a.expert()[t], "token " + t);
            for (int u = 0; u < t; u++) {
                if (ids[u] == ids[t]) {
                    assertEquals(a.expert()[u], a.expert()[t], "identical ids at " + u + " and " + t);
                }
            }
        }
    }

    @Test
    void bigramRoutingDependsOnThePreviousToken() {
        HashRouting table = HashRouting.build(HashKind.bigram, 4, new long[VOCAB], 7);
        TokenHashRouter router = new TokenHashRouter(table);
        Random r = new Random(2);
        int[] ids = randomIds(r, 200);
        int[] previous = randomIds(r, 200);
        RoutePlan a = router.route(ids, previous);
        assertArrayEquals(a.expert(), router.route(ids.clone(), previous.clone()).expert(), "deterministic");
        for (int t = 0; t < ids.length; t++) {
            assertEquals(table.expert(previous[t], ids[t]), a.expert()[t], "the model store's single implementation");
        }
        // 1,000,003 ≡ 3 (mod 4): moving the previous id by one moves the expert.
        int[] shifted = previous.clone();
        for (int t = 0; t < shifted.length; t++) {
            shifted[t]++;
        }
        int[] moved = router.route(ids, shifted).expert();
        for (int t = 0; t < ids.length; t++) {
            assertNotEquals(a.expert()[t], moved[t], "token " + t + " after " + previous[t] + " vs " + shifted[t]);
        }
    }

    @Test
    void hashPlansAreUngatedAndKeepEveryToken() {
        int[] skewed = new int[VOCAB];
        HashRouting table = new HashRouting(HashKind.random, 3, skewed); // every token to expert 0
        RoutePlan plan = new TokenHashRouter(table).route(new int[] {5, 6, 7, 8, 9, 10}, new int[6]);
        assertNull(plan.gates());
        assertEquals(1, plan.k());
        assertArrayEquals(new long[] {6, 0, 0}, plan.routed(), "no capacity: all six to one expert");
        assertEquals(0, plan.droppedTotal());
        for (int a = 0; a < 6; a++) {
            assertTrue(plan.kept()[a]);
            assertEquals(1f, plan.gate(a));
            assertEquals(a, plan.assignment(0, a));
        }
    }
}
