package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.kv.KvCacheFullException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A refused {@link Engine#forward} call changes nothing: the sequences keep their tokens and KV blocks, the pool
 * its free blocks, and decoding afterwards gives what it would have given without the refused call.
 */
class EngineErrorsTest {
    private static final Engine.Options BLOCKS_OF_4 = new Engine.Options(null, 4, 0, 4);

    private record Snapshot(int length, int[] tokens, int[] blocks, int freeBlocks) {
        static Snapshot of(Engine engine, Sequence s) {
            return new Snapshot(s.length(), s.tokens(), s.cache().blocks(), engine.kvPool().freeBlocks());
        }

        void assertSame(Engine engine, Sequence s, String what) {
            Snapshot now = of(engine, s);
            assertEquals(length, now.length, what + ": length");
            assertArrayEquals(tokens, now.tokens, what + ": tokens");
            assertArrayEquals(blocks, now.blocks, what + ": KV blocks");
            assertEquals(freeBlocks, now.freeBlocks, what + ": free KV blocks in the pool");
        }
    }

    @Test
    void passingTheContextLengthIsRefusedWithAClearMessageAndChangesNothing() {
        Engine engine = TestModels.engine(TestModels.dense(), 1, BLOCKS_OF_4);
        Engine control = TestModels.engine(TestModels.dense(), 1, BLOCKS_OF_4);
        int[] prompt = TestModels.tokens(1, 20);
        Sequence s = engine.newSequence();
        Sequence c = control.newSequence();
        engine.prefill(s, prompt);
        control.prefill(c, prompt);
        Snapshot before = Snapshot.of(engine, s);

        ContextLengthException e = assertThrows(ContextLengthException.class,
                () -> engine.forward(List.of(new Engine.Step(s, new int[] {1, 2, 3, 4, 5}))));
        assertEquals("sequence of 20 + 5 tokens exceeds the model's context length of 24", e.getMessage());
        before.assertSame(engine, s, "after a refused step");

        Sequence other = engine.newSequence();
        assertThrows(ContextLengthException.class, () -> engine.forward(List.of(
                new Engine.Step(other, new int[] {1, 2}), new Engine.Step(s, new int[25 - 20]))),
                "one step too long refuses the whole batch");
        assertEquals(0, other.length());
        assertEquals(0, other.cache().blockCount(), "the fitting step reserved nothing");
        before.assertSame(engine, s, "after a refused batch");

        assertThrows(ContextLengthException.class, () -> engine.prefill(engine.newSequence(), new int[25]));
        assertEquals(before.freeBlocks(), engine.kvPool().freeBlocks());

        int[] rest = {7, 8, 9, 10};
        TestModels.assertSameLogits(control.forward(List.of(new Engine.Step(c, rest)))[0],
                engine.forward(List.of(new Engine.Step(s, rest)))[0], "decoding resumes as if nothing happened");
        assertEquals(24, s.length(), "exactly the context length fits");
        assertThrows(ContextLengthException.class, () -> engine.forward(List.of(new Engine.Step(s, new int[] {1}))));
    }

    @Test
    void tokenIdsOutsideTheVocabularyAreRefused() {
        Engine engine = TestModels.engine(TestModels.hashRandom(), 2, BLOCKS_OF_4);
        Sequence s = engine.newSequence();
        engine.prefill(s, new int[] {1, 2, 3});
        Snapshot before = Snapshot.of(engine, s);
        for (int bad : new int[] {-1, TestModels.VOCAB, Integer.MAX_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> engine.forward(List.of(new Engine.Step(s, new int[] {4, bad, 5}))));
            assertEquals("token id " + bad + " is outside the vocabulary [0, " + TestModels.VOCAB + ")", e.getMessage());
            before.assertSame(engine, s, "after token " + bad);
        }
        engine.forward(List.of(new Engine.Step(s, new int[] {TestModels.VOCAB - 1, 0})));
        assertEquals(5, s.length(), "the vocabulary's ends are valid ids");
    }

    @Test
    void anEmptyStepIsRefused() {
        Engine engine = TestModels.engine(TestModels.dense(), 3, BLOCKS_OF_4);
        assertThrows(IllegalArgumentException.class, () -> new Engine.Step(engine.newSequence(), new int[0]));
        assertEquals(0, engine.forward(List.of()).length);
    }

    @Test
    void kvExhaustionAcrossABatchIsRefusedAndLeaksNoBlocks() {
        Engine engine = TestModels.engine(TestModels.dense(), 4, new Engine.Options(null, 4, 5, 1));
        Engine control = TestModels.engine(TestModels.dense(), 4, new Engine.Options(null, 4, 5, 1));
        Sequence a = engine.newSequence();
        Sequence ca = control.newSequence();
        int[] prompt = TestModels.tokens(4, 8);
        engine.prefill(a, prompt);
        control.prefill(ca, prompt);
        assertEquals(3, engine.kvPool().freeBlocks());
        Snapshot before = Snapshot.of(engine, a);
        Sequence b = engine.newSequence();

        // a needs 2 more blocks (8 → 13 positions), b needs 2: 4 > 3 free.
        KvCacheFullException e = assertThrows(KvCacheFullException.class, () -> engine.forward(List.of(
                new Engine.Step(a, new int[] {1, 2, 3, 4, 5}), new Engine.Step(b, TestModels.tokens(5, 8)))));
        assertTrue(e.getMessage().contains("needs 4 more block") && e.getMessage().contains("3 of 5 free"), e.getMessage());
        before.assertSame(engine, a, "after the refused batch");
        assertEquals(0, b.cache().blockCount(), "b took no block");
        assertEquals(0, b.length());

        // 1 + 2 = 3 blocks fit exactly.
        int[] more = {1, 2, 3, 4};
        float[][] logits = engine.forward(List.of(new Engine.Step(a, more), new Engine.Step(b, TestModels.tokens(5, 8))));
        assertEquals(0, engine.kvPool().freeBlocks());
        TestModels.assertSameLogits(control.forward(List.of(new Engine.Step(ca, more)))[0], logits[0],
                "a decodes as if the refused batch never happened");
        a.close();
        b.close();
        assertEquals(5, engine.kvPool().freeBlocks(), "closed sequences return every block");
    }

    /**
     * A sequence may hold more blocks than its tokens need (reserved ahead, or left by a failed call); its spare
     * blocks must not be counted as free for the other sequences of a batch.
     */
    @Test
    void spareBlocksOfOneSequenceDoNotLetABatchOvercommit() {
        Engine engine = TestModels.engine(TestModels.dense(), 5, new Engine.Options(null, 4, 4, 1));
        Sequence ahead = engine.newSequence();
        ahead.cache().reserve(12); // 3 blocks for 0 tokens
        Sequence b = engine.newSequence();
        Sequence c = engine.newSequence();
        assertEquals(1, engine.kvPool().freeBlocks());
        // ahead needs none, b one block, c two: 3 > 1 free.
        assertThrows(KvCacheFullException.class, () -> engine.forward(List.of(new Engine.Step(ahead, new int[] {1}),
                new Engine.Step(b, new int[] {2}), new Engine.Step(c, new int[] {3, 4, 5, 6, 7}))));
        assertEquals(0, b.cache().blockCount(), "nothing reserved for b by a refused call: " + Arrays.toString(b.cache().blocks()));
        assertEquals(0, c.cache().blockCount());
        assertEquals(1, engine.kvPool().freeBlocks());
        assertEquals(3, ahead.cache().blockCount());
    }

    @Test
    void aSequenceAppearsAtMostOncePerCall() {
        Engine engine = TestModels.engine(TestModels.dense(), 6, BLOCKS_OF_4);
        Sequence s = engine.newSequence();
        engine.prefill(s, new int[] {1, 2});
        Snapshot before = Snapshot.of(engine, s);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> engine.forward(List.of(
                new Engine.Step(s, new int[] {3}), new Engine.Step(s, new int[] {4}))));
        assertTrue(e.getMessage().contains("more than once"), e.getMessage());
        before.assertSame(engine, s, "after the refused call");
    }
}
