package dev.switchback.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants of learned top-k routing with capacity, over random logits for many (tokens, experts, k, factor). */
class TopKRouterTest {
    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> out = Stream.builder();
        for (int tokens : new int[] {1, 2, 5, 17, 64}) {
            for (int experts : new int[] {2, 3, 4, 8}) {
                for (int k : IntStream.of(1, 2, experts).distinct().toArray()) {
                    for (double cf : new double[] {0.25, 1.0, 1.25, 2.0, 100.0}) {
                        out.add(Arguments.of(tokens, experts, k, cf));
                    }
                }
            }
        }
        return out.build();
    }

    private static double[] softmaxDouble(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(logits[off + i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @ParameterizedTest(name = "T={0} E={1} k={2} cf={3}")
    @MethodSource("cases")
    void planInvariantsHold(int tokens, int experts, int k, double cf) {
        Random random = new Random(tokens * 1000L + experts * 10L + k + (long) (cf * 100) * 100_000L);
        float[] logits = new float[tokens * experts];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (random.nextGaussian() * 2);
        }
        float[] original = logits.clone();
        RoutePlan plan = new TopKRouter(experts, k, cf).route(logits, tokens);
        int capacity = (int) Math.ceil((double) tokens * k / experts * cf);
        assertEquals(capacity, RoutePlan.capacity(tokens, k, experts, cf));
        assertEquals(tokens, plan.tokens());
        assertEquals(k, plan.k());
        assertEquals(experts, plan.experts());
        assertEquals(tokens * k, plan.expert().length);

        for (int t = 0; t < tokens; t++) {
            double[] p = softmaxDouble(original, t * experts, experts);
            // The router's probabilities are left in the logits array.
            for (int e = 0; e < experts; e++) {
                assertEquals(p[e], logits[t * experts + e], 1e-6, "probability of token " + t + ", expert " + e);
            }
            // Choices: distinct, in decreasing probability, ties to the lower index; the first is the argmax.
            int argmax = 0;
            for (int e = 1; e < experts; e++) {
                if (original[t * experts + e] > original[t * experts + argmax]) {
                    argmax = e;
                }
            }
            assertEquals(argmax, plan.expert()[t * k], "top choice of token " + t + " is the logits' argmax");
            boolean[] taken = new boolean[experts];
            for (int j = 0; j < k; j++) {
                int e = plan.expert()[t * k + j];
                assertFalse(taken[e], "token " + t + " chose expert " + e + " twice");
                taken[e] = true;
                for (int other = 0; other < experts; other++) {
                    if (!taken[other]) {
                        float pe = logits[t * experts + e];
                        float po = logits[t * experts + other];
                        assertTrue(pe > po || (pe == po && e < other),
                                "choice " + j + " of token " + t + " (" + e + ") beats unchosen expert " + other);
                    }
                }
            }
            // Gates: the probability for k = 1 (Switch), renormalised over the chosen k otherwise.
            double chosenMass = 0;
            for (int j = 0; j < k; j++) {
                chosenMass += p[plan.expert()[t * k + j]];
            }
            double gateSum = 0;
            for (int j = 0; j < k; j++) {
                int a = t * k + j;
                double expected = k == 1 ? p[plan.expert()[a]] : p[plan.expert()[a]] / chosenMass;
                assertEquals(expected, plan.gate(a), 1e-6, "gate of assignment " + a);
                if (k == 1) {
                    assertEquals(logits[t * experts + plan.expert()[a]], plan.gate(a), "k = 1: the gate is the probability itself");
                }
                gateSum += plan.gate(a);
            }
            if (k > 1) {
                assertEquals(1.0, gateSum, 1e-6, "gates of token " + t + " sum to 1");
            }
        }

        // Accounting: every assignment kept or dropped, counted per expert, none over capacity.
        long routed = 0;
        long dropped = 0;
        for (int e = 0; e < experts; e++) {
            assertTrue(plan.routed()[e] <= capacity, "expert " + e + " over capacity " + capacity + ": " + plan.routed()[e]);
            int kept = 0;
            int lost = 0;
            for (int a = 0; a < tokens * k; a++) {
                if (plan.expert()[a] == e) {
                    if (plan.kept()[a]) {
                        kept++;
                    } else {
                        lost++;
                    }
                }
            }
            assertEquals(kept, plan.routed()[e], "routed count of expert " + e);
            assertEquals(lost, plan.dropped()[e], "dropped count of expert " + e);
            routed += plan.routed()[e];
            dropped += plan.dropped()[e];
        }
        assertEquals((long) tokens * k, routed + dropped, "Σrouted + Σdropped = tokens·k");
        assertEquals(dropped, plan.droppedTotal());
        if (cf >= experts) {
            assertEquals(0, dropped, "capacity of at least all tokens·k drops nothing");
        }

        // Priority: per expert, the kept assignments are exactly the first ones in (rank, token) order, so every
        // first choice is served before any second choice, and earlier tokens before later ones within a rank.
        for (int e = 0; e < experts; e++) {
            List<Integer> order = new ArrayList<>();
            for (int j = 0; j < k; j++) {
                for (int t = 0; t < tokens; t++) {
                    if (plan.expert()[t * k + j] == e) {
                        order.add(t * k + j);
                    }
                }
            }
            for (int i = 0; i < order.size(); i++) {
                assertEquals(i < capacity, plan.kept()[order.get(i)],
                        "expert " + e + "'s " + i + "-th request in (rank, token) order, capacity " + capacity);
            }
        }

        // Groups: each expert's kept assignments, in token order, and nothing else.
        assertEquals(0, plan.groupStart()[0]);
        assertEquals(routed, plan.groupStart()[experts]);
        for (int e = 0; e < experts; e++) {
            assertEquals(plan.routed()[e], plan.groupSize(e));
            int previous = -1;
            for (int i = 0; i < plan.groupSize(e); i++) {
                int a = plan.assignment(e, i);
                assertEquals(e, plan.expert()[a], "group " + e + " holds only its expert's assignments");
                assertTrue(plan.kept()[a], "group " + e + " holds only kept assignments");
                assertTrue(previous < 0 || a / k > previous / k, "group " + e + " in token order");
                previous = a;
            }
        }
    }

    @Test
    void tiesGoToTheLowerIndex() {
        float[] logits = {1, 3, 3, 0, /* */ 2, 2, 2, 2};
        RoutePlan top1 = new TopKRouter(4, 1, 100).route(logits.clone(), 2);
        assertArrayEquals(new int[] {1, 0}, top1.expert());
        RoutePlan top2 = new TopKRouter(4, 2, 100).route(logits.clone(), 2);
        assertArrayEquals(new int[] {1, 2, 0, 1}, top2.expert());
        assertEquals(0.5f, top2.gate(0), 1e-7);
        assertEquals(0.5f, top2.gate(1), 1e-7);
        RoutePlan all = new TopKRouter(4, 4, 100).route(logits.clone(), 2);
        assertArrayEquals(new int[] {1, 2, 0, 3, 0, 1, 2, 3}, all.expert());
    }

    @Test
    void everyFirstChoiceIsServedBeforeAnySecondChoice() {
        // Four tokens all preferring expert 0, then expert 1; capacity ⌈4·2/2·0.5⌉ = 2 per expert.
        float[] logits = {5, 1, 5, 1, 5, 1, 5, 1};
        RoutePlan plan = new TopKRouter(2, 2, 0.5).route(logits, 4);
        assertArrayEquals(new boolean[] {true, true, true, true, false, false, false, false}, plan.kept(),
                "tokens 0 and 1 keep both choices; 2 and 3 lose both");
        logits = new float[] {5, 1, 1, 5, 5, 1, 1, 5};
        plan = new TopKRouter(2, 2, 0.5).route(logits, 4);
        // First choices 0,1,0,1 fill both experts (2 each); no second choice fits anywhere.
        assertArrayEquals(new boolean[] {true, false, true, false, true, false, true, false}, plan.kept());
        assertArrayEquals(new long[] {2, 2}, plan.routed());
        assertArrayEquals(new long[] {2, 2}, plan.dropped());
    }

    /**
     * Choices are ranked on the float32 probabilities, as the trainer ranks them, so experts whose probabilities
     * underflow to 0 tie and go by index even where their logits differ; their gates are 0 either way.
     */
    @Test
    void extremeLogitsStayFiniteAndUnderflowedProbabilitiesTie() {
        float[] logits = {1e30f, -1e30f, 0, Float.MAX_VALUE, -Float.MAX_VALUE, 3};
        RoutePlan plan = new TopKRouter(3, 2, 100).route(logits, 2);
        assertArrayEquals(new int[] {0, 1, 0, 1}, plan.expert());
        for (int a = 0; a < 4; a++) {
            assertTrue(Float.isFinite(plan.gate(a)), "gate " + a);
        }
        assertEquals(1f, plan.gate(0));
        assertEquals(1f, plan.gate(2));
        assertEquals(0f, plan.gate(1));
        assertEquals(0f, plan.gate(3));
    }

    @Test
    void invalidSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new TopKRouter(1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new TopKRouter(4, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new TopKRouter(4, 5, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TopKRouter(4, 1, 0));
        assertTrue(e.getMessage().contains("capacityFactor"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TopKRouter(4, 1, Double.NaN));
    }
}
