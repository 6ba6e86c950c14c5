package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Provenance;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.ReferenceLogits;
import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.data.TokenData;
import dev.switchback.trainer.data.TokenizedCorpus;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The native engine against the trainer: for every architecture, a briefly trained model is published and
 * loaded by the engine, whose logits must match the trainer's {@code reference.json} (1e-4 relative with F32
 * weights, 1e-2 with BF16), and whose token-by-token decoding must match the trainer's full forward pass.
 * Widths (d 40, head 20, FFN 72) are deliberately not multiples of the vector length.
 */
class EngineParityTest {
    private static BpeTokenizer tokenizer;
    private static TokenData data;

    @BeforeAll
    static void tokenize() throws Exception {
        Corpus corpus = Corpus.load(Path.of(EngineParityTest.class.getResource("/kjv-excerpt.txt").toURI()));
        tokenizer = BpeTokenizer.train(corpus.trainTexts(), 300, List.of(BpeTokenizer.END_OF_TEXT), null);
        data = new TokenData(TokenizedCorpus.encode(tokenizer, corpus.trainTexts()),
                TokenizedCorpus.encode(tokenizer, corpus.validationTexts()));
    }

    /** Capacity factor 4 at evaluation: with 4 experts no token is ever dropped, so decoding can match. */
    static Architecture[] architectures() {
        Architecture hash = new Architecture.Hash(4, 2, Architecture.HashKind.balanced, 7, 0.0);
        Architecture sw = new Architecture.Switch(4, 2, 1.25, 4.0, 0.01, 1e-3, 0.1, 0.0);
        return new Architecture[] {
            new Architecture.Dense(),
            sw,
            new Architecture.TopK(4, 2, 2, 1.25, 4.0, 0.01, 1e-3, 0.1, 0.0),
            hash,
            new Architecture.Hash(4, 1, Architecture.HashKind.bigram, 7, 0.0),
            new Architecture.Ladder(2, new Architecture.Dense()),
            new Architecture.Ladder(2, hash),
            new Architecture.Ladder(2, sw),
        };
    }

    private static PublishedModel train(Architecture arch, ModelStore store, DType dtype, Trainer[] keep) throws Exception {
        ModelConfig model = new ModelConfig(tokenizer.vocabSize(), 40, 2, 2, 72, 48, false, 10000, 1e-5, arch);
        TrainConfig config = new TrainConfig("parity-" + arch.kind(), model,
                new TrainConfig.Training(4, 4, 24, 3e-3, 0.1, 1, 0.0, 0.9, 0.95, 1.0, 0.0, 5, 0, 256, 0),
                new TrainConfig.Data("unused", null, tokenizer.vocabSize()));
        HashRouting hash = arch.sparse() instanceof Architecture.Hash h
                ? HashRouting.build(h.table(), h.experts(), TokenizedCorpus.counts(data.train(), tokenizer.vocabSize()), h.seed())
                : null;
        Trainer trainer = new Trainer(config, data, hash);
        for (int i = 0; i < 4; i++) {
            trainer.step();
        }
        keep[0] = trainer;
        return ModelPublisher.publish(store, config.name(), trainer.model(), tokenizer, dtype, Provenance.unknown());
    }

    /** max |a − b| / max |b|. */
    static double relativeError(float[] actual, float[] expected) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return diff / scale;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void engineMatchesTrainerReferenceAndDecodesTokenByToken(Architecture arch, @TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        Trainer[] trainer = new Trainer[1];
        PublishedModel published = train(arch, store, DType.F32, trainer);
        try (Trainer t = trainer[0]; OpenedModel opened = store.open(published.dir())) {
            Engine engine = Engine.load(opened, Engine.Options.defaults());
            assertEquals(WeightFormat.F32, engine.weights().format());
            for (ReferenceLogits.Reference ref : opened.reference().references()) {
                try (Sequence seq = engine.newSequence()) {
                    double err = relativeError(engine.prefill(seq, ref.tokens()), ref.logits());
                    assertTrue(err <= 1e-4, "prefill of '" + ref.prompt() + "': relative error " + err);
                }
            }
            // Token by token: prefill 3 tokens, then one at a time; each step equals the trainer's full forward.
            int[] prompt = opened.reference().references().get(1).tokens();
            try (Sequence seq = engine.newSequence()) {
                engine.prefill(seq, Arrays.copyOf(prompt, 3));
                for (int i = 3; i < prompt.length; i++) {
                    float[] step = engine.forward(List.of(new Engine.Step(seq, new int[] {prompt[i]})))[0];
                    float[] expected = ModelPublisher.lastLogits(t.model(), Arrays.copyOf(prompt, i + 1));
                    double err = relativeError(step, expected);
                    assertTrue(err <= 1e-4, "decode step " + i + ": relative error " + err);
                }
                assertEquals(prompt.length, seq.length());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void bf16WeightsStayWithinOnePercent(Architecture arch, @TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        Trainer[] trainer = new Trainer[1];
        PublishedModel published = train(arch, store, DType.BF16, trainer);
        try (Trainer t = trainer[0]; OpenedModel opened = store.open(published.dir())) {
            Engine engine = Engine.load(opened, Engine.Options.defaults());
            assertEquals(WeightFormat.BF16, engine.weights().format(), "BF16 weights are kept as BF16");
            for (ReferenceLogits.Reference ref : opened.reference().references()) {
                try (Sequence seq = engine.newSequence()) {
                    double err = relativeError(engine.prefill(seq, ref.tokens()), ref.logits());
                    assertTrue(err <= 1e-2, "BF16 prefill of '" + ref.prompt() + "': relative error " + err);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void sequencesBatchedTogetherMatchSequencesAlone(Architecture arch, @TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        Trainer[] trainer = new Trainer[1];
        PublishedModel published = train(arch, store, DType.F32, trainer);
        try (Trainer t = trainer[0]; OpenedModel opened = store.open(published.dir())) {
            Engine engine = Engine.load(opened, Engine.Options.defaults());
            int[] a = opened.reference().references().get(0).tokens();
            int[] b = opened.reference().references().get(3).tokens();
            float[] aloneA;
            float[] aloneB;
            try (Sequence sa = engine.newSequence(); Sequence sb = engine.newSequence()) {
                aloneA = engine.prefill(sa, a);
                aloneB = engine.prefill(sb, b);
            }
            try (Sequence sa = engine.newSequence(); Sequence sb = engine.newSequence()) {
                // One call mixing a decode step (sa) with a prefill (sb), as continuous batching does.
                engine.prefill(sa, Arrays.copyOf(a, a.length - 1));
                float[][] both = engine.forward(List.of(new Engine.Step(sa, new int[] {a[a.length - 1]}), new Engine.Step(sb, b)));
                assertTrue(relativeError(both[0], aloneA) <= 1e-5, "decode step batched with a prefill");
                assertTrue(relativeError(both[1], aloneB) <= 1e-5, "prefill batched with a decode step");
            }
            assertEquals(engine.kvPool().totalBlocks(), engine.kvPool().freeBlocks(), "closed sequences return their KV blocks");
        }
    }
}
