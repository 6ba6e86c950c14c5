package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.switchback.store.model.Architecture;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A sequence started on another sequence's cached prefix blocks computes what a full prefill computes. */
class PrefixSharingTest {
    static Architecture[] architectures() {
        return new Architecture[] {TestModels.dense(), TestModels.hashBigram(), new Architecture.Ladder(2, TestModels.dense())};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void adoptedPrefixGivesTheSameLogitsAndSharesBlocks(Architecture arch) {
        Engine engine = TestModels.engine(arch, 5, new Engine.Options(null, 4, 64, 1));
        int[] prompt = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
        try (Sequence owner = engine.newSequence(); Sequence full = engine.newSequence()) {
            engine.prefill(owner, prompt);
            float[] expected = engine.prefill(full, prompt);
            int[] shared = Arrays.copyOf(owner.cache().blocks(), 2);
            int free = engine.kvPool().freeBlocks();
            try (Sequence reuse = engine.newSequence(Arrays.copyOf(prompt, 8), shared)) {
                assertEquals(free, engine.kvPool().freeBlocks(), "adopting allocates nothing");
                assertEquals(2, engine.kvPool().references(shared[0]));
                float[] logits = engine.prefill(reuse, Arrays.copyOfRange(prompt, 8, prompt.length));
                assertArrayEquals(expected, logits, 1e-6f);
                assertEquals(prompt.length, reuse.length());
            }
            assertEquals(1, engine.kvPool().references(shared[0]), "closing the reuser drops only its references");
        }
        assertEquals(engine.kvPool().totalBlocks(), engine.kvPool().freeBlocks());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void onlyWholeBlocksCanBeShared(Architecture arch) {
        Engine engine = TestModels.engine(arch, 5, new Engine.Options(null, 4, 16, 1));
        try (Sequence owner = engine.newSequence()) {
            engine.prefill(owner, new int[] {1, 2, 3, 4, 5, 6});
            assertThrows(IllegalArgumentException.class, () -> engine.newSequence(new int[] {1, 2, 3, 4, 5, 6}, owner.cache().blocks()));
        }
    }
}
