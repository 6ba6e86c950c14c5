package dev.switchback.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class IncrementalDecoderTest {
    private static final int VOCAB = 64;
    private static final int CONTEXT = 32;
    private static final double TOLERANCE = 1e-4;

    // Eval capacity factor = experts: no token is dropped however the tokens are grouped into a routing batch.
    private static final Architecture SWITCH = new Architecture.Switch(4, 1, 1.25, 4.0, 0.01, 1e-3, 0.1, 0.0);
    private static final Architecture TOP2 = new Architecture.TopK(4, 2, 1, 1.25, 4.0, 0.01, 1e-3, 0.1, 0.0);
    private static final Architecture HASH = new Architecture.Hash(4, 1, Architecture.HashKind.balanced, 7, 0.0);
    private static final Architecture BIGRAM = new Architecture.Hash(4, 1, Architecture.HashKind.bigram, 7, 0.0);

    static Stream<Arguments> architectures() {
        return Stream.of(
                Arguments.of("dense", new Architecture.Dense(), true),
                Arguments.of("switch", SWITCH, false),
                Arguments.of("top2", TOP2, false),
                Arguments.of("hash", HASH, false),
                Arguments.of("bigram", BIGRAM, false),
                Arguments.of("ladder", new Architecture.Ladder(2, new Architecture.Dense()), false),
                Arguments.of("hash+ladder", new Architecture.Ladder(2, HASH), true),
                Arguments.of("switch+ladder", new Architecture.Ladder(2, SWITCH), false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void everyStepMatchesAFullForwardOverThePrefix(String name, Architecture arch, boolean tied) {
        try (NDManager m = NDManager.newBaseManager(); Gpt model = model(m, arch, tied, CONTEXT);
                IncrementalDecoder decoder = new IncrementalDecoder(model, 1)) {
            int[] tokens = randomTokens(new SplittableRandom(5), 20);
            double worst = 0;
            // A 5-token prefill, a 3-token chunk over a non-empty cache, then one token at a time.
            int[] ends = {5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
            int at = 0;
            for (int end : ends) {
                float[] got = decoder.forward(new int[][] {Arrays.copyOfRange(tokens, at, end)})[0];
                at = end;
                assertEquals(end, decoder.position());
                worst = Math.max(worst, relativeError(got, fullForwardLast(model, Arrays.copyOf(tokens, end))));
            }
            assertTrue(worst <= TOLERANCE, name + ": relative error " + worst);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void aBatchOfTwoDecodesLikeEachSequenceAlone(String name, Architecture arch, boolean tied) {
        try (NDManager m = NDManager.newBaseManager(); Gpt model = model(m, arch, tied, CONTEXT);
                IncrementalDecoder both = new IncrementalDecoder(model, 2);
                IncrementalDecoder first = new IncrementalDecoder(model, 1);
                IncrementalDecoder second = new IncrementalDecoder(model, 1)) {
            SplittableRandom rng = new SplittableRandom(11);
            int[][] chunk = {randomTokens(rng, 6), randomTokens(rng, 6)};
            double worst = 0;
            for (int step = 0; step < 10; step++) {
                float[][] together = both.forward(chunk);
                worst = Math.max(worst, relativeError(together[0], first.forward(new int[][] {chunk[0]})[0]));
                worst = Math.max(worst, relativeError(together[1], second.forward(new int[][] {chunk[1]})[0]));
                chunk = new int[][] {randomTokens(rng, 1), randomTokens(rng, 1)};
            }
            assertTrue(worst <= TOLERANCE, name + ": relative error " + worst);
        }
    }

    @Test
    void exceedingTheContextFailsAndLeavesTheSequencesAsTheyWere() {
        try (NDManager m = NDManager.newBaseManager(); Gpt model = model(m, SWITCH, false, CONTEXT);
                IncrementalDecoder decoder = new IncrementalDecoder(model, 1)) {
            int[] tokens = randomTokens(new SplittableRandom(3), CONTEXT + 1);
            decoder.forward(new int[][] {Arrays.copyOf(tokens, 30)});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> decoder.forward(new int[][] {Arrays.copyOfRange(tokens, 30, 33)}));
            assertEquals("context length exceeded: 30 positions decoded + 3 new > contextLength 32 (reset() to start again)",
                    e.getMessage());
            assertEquals(30, decoder.position());
            float[] last = decoder.forward(new int[][] {Arrays.copyOfRange(tokens, 30, 32)})[0];
            assertTrue(relativeError(last, fullForwardLast(model, Arrays.copyOf(tokens, 32))) <= TOLERANCE);
            assertThrows(IllegalArgumentException.class, () -> decoder.forward(new int[][] {{1}}));
            decoder.reset();
            assertEquals(0, decoder.position());
            float[] again = decoder.forward(new int[][] {Arrays.copyOf(tokens, 4)})[0];
            assertTrue(relativeError(again, fullForwardLast(model, Arrays.copyOf(tokens, 4))) <= TOLERANCE);
        }
    }

    @Test
    void malformedChunksAreRefusedByName() {
        try (NDManager m = NDManager.newBaseManager(); Gpt model = model(m, new Architecture.Dense(), false, CONTEXT);
                IncrementalDecoder decoder = new IncrementalDecoder(model, 2)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> decoder.forward(new int[][] {{1}}))
                    .getMessage().contains("one row per sequence"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> decoder.forward(new int[][] {{1, 2}, {3}}))
                    .getMessage().contains("equal lengths"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> decoder.forward(new int[][] {{}, {}}))
                    .getMessage().contains("at least one token"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> decoder.forward(new int[][] {{1}, {VOCAB}}))
                    .getMessage().contains("outside [0, 64)"));
            assertEquals(0, decoder.position());
        }
    }

    @Test
    void decodeSpeedCountsGeneratedTokensOfEverySequence() {
        try (NDManager m = NDManager.newBaseManager(); Gpt model = model(m, SWITCH, false, CONTEXT)) {
            assertTrue(IncrementalDecoder.decodeTokensPerSecond(model, 2, 4, 8, 2) > 0);
            assertThrows(IllegalArgumentException.class, () -> IncrementalDecoder.decodeTokensPerSecond(model, 1, 20, 10, 3));
        }
    }

    /** Decode speed of the tiny switch benchmark model; run with -Dbench=true. */
    @Test
    @EnabledIfSystemProperty(named = "bench", matches = "true")
    void benchmarkTinySwitch() {
        ModelConfig config = new ModelConfig(4096, 128, 4, 4, 512, 256, true, 10000, 1e-5,
                new Architecture.Switch(8, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0));
        try (NDManager m = NDManager.newBaseManager(); Gpt model = Gpt.initialise(m, config, 0, 1, null)) {
            for (int batch : new int[] {1, 16}) {
                for (int round = 0; round < 3; round++) {
                    double rate = IncrementalDecoder.decodeTokensPerSecond(model, batch, 16, 128, 32);
                    System.out.printf("tiny switch decode, batch %d: %.0f tokens/s%n", batch, rate);
                }
            }
        }
    }

    private static Gpt model(NDManager m, Architecture arch, boolean tied, int context) {
        ModelConfig config = new ModelConfig(VOCAB, 32, 2, 2, 64, context, tied, 10000, 1e-5, arch);
        HashRouting hash = null;
        if (arch.sparse() instanceof Architecture.Hash h) {
            SplittableRandom rng = new SplittableRandom(2);
            long[] counts = new long[VOCAB];
            Arrays.setAll(counts, i -> rng.nextInt(1000));
            hash = HashRouting.build(h.table(), h.experts(), counts, h.seed());
        }
        return Gpt.initialise(m, config, 0.1, 17, hash);
    }

    /** Logits after the last token of {@code tokens} from one forward pass over the whole sequence. */
    private static float[] fullForwardLast(Gpt model, int[] tokens) {
        try (NDManager m = model.parameters().manager().newSubManager()) {
            for (NDArray p : model.parameters().all().values()) {
                p.tempAttach(m);
            }
            NDArray logits = model.forward(m, new int[][] {tokens}, false).logits();
            return logits.get(new NDIndex("0, {}", tokens.length - 1)).toFloatArray();
        }
    }

    /** max |got − want| / max |want|. */
    private static double relativeError(float[] got, float[] want) {
        assertEquals(want.length, got.length);
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < want.length; i++) {
            diff = Math.max(diff, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return diff / scale;
    }

    private static int[] randomTokens(SplittableRandom rng, int n) {
        int[] out = new int[n];
        Arrays.setAll(out, i -> rng.nextInt(VOCAB));
        return out;
    }
}
