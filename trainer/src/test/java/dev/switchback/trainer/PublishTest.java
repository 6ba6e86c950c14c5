package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
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
import dev.switchback.trainer.model.Gpt;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PublishTest {
    private static BpeTokenizer tokenizer;
    private static TokenData data;

    @BeforeAll
    static void tokenize() throws Exception {
        Corpus corpus = Corpus.load(Path.of(PublishTest.class.getResource("/kjv-excerpt.txt").toURI()));
        tokenizer = BpeTokenizer.train(corpus.trainTexts(), 320, List.of(BpeTokenizer.END_OF_TEXT), null);
        data = new TokenData(TokenizedCorpus.encode(tokenizer, corpus.trainTexts()), TokenizedCorpus.encode(tokenizer, corpus.validationTexts()));
    }

    static Architecture[] architectures() {
        Architecture hash = new Architecture.Hash(4, 2, Architecture.HashKind.balanced, 7, 0.0);
        return new Architecture[] {
            new Architecture.Dense(),
            new Architecture.Switch(4, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0),
            new Architecture.TopK(4, 2, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0),
            hash,
            new Architecture.Hash(4, 2, Architecture.HashKind.bigram, 7, 0.0),
            new Architecture.Ladder(2, hash),
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void publishedModelLoadsWithIdenticalLogits(Architecture arch, @TempDir Path storeDir) throws Exception {
        ModelConfig model = new ModelConfig(tokenizer.vocabSize(), 32, 2, 2, 64, 32, false, 10000, 1e-5, arch);
        TrainConfig config = new TrainConfig("pub-" + arch.kind(), model,
                new TrainConfig.Training(3, 4, 16, 1e-3, 0.1, 1, 0.0, 0.9, 0.95, 1.0, 0.0, 9, 0, 256, 0),
                new TrainConfig.Data("unused", null, tokenizer.vocabSize()));
        HashRouting hash = arch.sparse() instanceof Architecture.Hash h
                ? HashRouting.build(h.table(), h.experts(), TokenizedCorpus.counts(data.train(), tokenizer.vocabSize()), h.seed())
                : null;
        ModelStore store = new ModelStore(storeDir);
        try (Trainer trainer = new Trainer(config, data, hash)) {
            for (int i = 0; i < 3; i++) {
                trainer.step();
            }
            PublishedModel published = ModelPublisher.publish(store, config.name(), trainer.model(), tokenizer, DType.F32,
                    Provenance.unknown());
            assertTrue(store.verify(published.dir()).ok(), store.verify(published.dir()).describe());
            ReferenceLogits expected = ModelPublisher.referenceLogits(trainer.model(), tokenizer);
            try (OpenedModel opened = store.open(published.dir()); NDManager m = NDManager.newBaseManager();
                    Gpt loaded = ModelLoader.load(m, opened, 0)) {
                assertEquals(model, opened.config());
                assertEquals("{content}\n", opened.manifest().chatTemplate(), "one message a line, as the corpus was read");
                assertEquals(expected, opened.reference(), "reference.json holds the trainer's own logits");
                for (ReferenceLogits.Reference ref : expected.references()) {
                    assertArrayEquals(ref.logits(), ModelPublisher.lastLogits(loaded, ref.tokens()), "logits after '" + ref.prompt() + "'");
                }
                if (hash != null) {
                    assertArrayEquals(hash.table(), loaded.hashRouting().table());
                }
            }
        }
    }
}
