package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How a sharded group splits a call's sequences over its GPUs (checked here on the CPU engine's bookkeeping, without
 * GPUs): new sequences spread to the GPU holding the fewest, a sequence stays where its keys and values are, a closed
 * one frees its place, a sequence starting from cached prefix blocks goes where they were written, the tokens are laid
 * out in GPU order and results come back in call order.
 */
class RankAssignmentTest {
    private final Engine engine = TestModels.engine(TestModels.hashRandom(), 3, new Engine.Options(null, 4, 0, 8));
    private final RankAssignment assignment = new RankAssignment(2);

    /** Splits, runs the step on the CPU engine (which reserves and commits), records the writers. */
    private RankAssignment.Split step(List<Engine.Step> steps) {
        RankAssignment.Split split = assignment.split(steps);
        engine.forward(steps);
        assignment.written(steps, split, engine.sequences().pool());
        return split;
    }

    private static List<Engine.Step> steps(List<Sequence> sequences, int... lengths) {
        List<Engine.Step> out = new ArrayList<>();
        for (int i = 0; i < sequences.size(); i++) {
            out.add(new Engine.Step(sequences.get(i), TestModels.tokens(17 * i + sequences.get(i).length(), lengths[i])));
        }
        return out;
    }

    @Test
    void sequencesSpreadStayAndComeBackInCallOrder() {
        List<Sequence> s = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            s.add(engine.newSequence());
        }
        List<Engine.Step> first = steps(s, 3, 5, 2, 4);
        RankAssignment.Split split = step(first);
        assertArrayEquals(new int[] {0, 1, 0, 1}, split.rank(), "new sequences alternate");
        assertArrayEquals(new int[] {3 + 2, 5 + 4}, split.tokens());
        // Tokens in GPU order: GPU 0's steps (0, 2) in call order, then GPU 1's (1, 3).
        int[] expected = concat(first.get(0).tokens(), first.get(2).tokens(), first.get(1).tokens(), first.get(3).tokens());
        assertArrayEquals(expected, split.ids());
        assertEquals(expected.length, split.previous().length);

        // The same sequences in another order keep their GPUs; results come back in call order.
        List<Sequence> reordered = List.of(s.get(3), s.get(0), s.get(2), s.get(1));
        RankAssignment.Split again = step(steps(reordered, 1, 1, 1, 1));
        assertArrayEquals(new int[] {1, 0, 0, 1}, again.rank());
        assertArrayEquals(new int[] {1, 2}, again.positions(0), "GPU 0's results go to the call's places 1 and 2");
        assertArrayEquals(new int[] {0, 3}, again.positions(1));
        assertEquals(List.of(s.get(0), s.get(2)), again.own(0, reordered));
        assertEquals(List.of(s.get(3), s.get(1)), again.own(1, reordered));

        // A closed sequence frees its GPU's place: a newcomer goes there although both GPUs held two.
        s.get(2).close();
        Sequence newcomer = engine.newSequence();
        RankAssignment.Split joined = step(steps(List.of(s.get(1), newcomer), 1, 2));
        assertArrayEquals(new int[] {1, 0}, joined.rank());
    }

    @Test
    void aSequenceStartingFromCachedBlocksGoesWhereTheyWereWritten() {
        Sequence a = engine.newSequence();
        Sequence b = engine.newSequence();
        step(steps(List.of(a, b), 2, 8)); // b: two whole blocks of 4, written by GPU 1
        Sequence c = engine.newSequence();
        step(steps(List.of(c), 3)); // GPU 0 now holds a and c, GPU 1 holds b
        Sequence shared = engine.sequences().newSequence(Arrays.copyOf(b.tokens(), 8), Arrays.copyOf(b.cache().blocks(), 2));
        RankAssignment.Split split = step(steps(List.of(shared, engine.newSequence()), 1, 1));
        assertEquals(1, split.rank()[0], "the prefix's keys and values are on GPU 1");
        assertEquals(0, split.rank()[1], "then each GPU holds two, and the tie goes to the GPU with fewer tokens in the call");
    }

    @Test
    void aGroupNeedsARank() {
        assertThrows(IllegalArgumentException.class, () -> new RankAssignment(0));
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }
}
