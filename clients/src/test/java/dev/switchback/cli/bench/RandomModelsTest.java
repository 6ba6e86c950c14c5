package dev.switchback.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.ReferenceLogits;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Random-weight models published to a store: complete, verifiable, and served as they were generated. */
class RandomModelsTest {
    static final Path TOKENIZER = Path.of("..", "model-store", "default-store", "switch-kjv", "1", ModelFiles.TOKENIZER);

    static ModelConfig config(int vocab) {
        return new ModelConfig(vocab, 16, 2, 2, 32, 64, true, 10000, 1e-5, Architecture.Switch.defaults(4));
    }

    @Test
    void aPublishedModelVerifiesAndItsReferenceLogitsAreTheEnginesOwn(@TempDir Path root) throws Exception {
        ModelStore store = new ModelStore(root);
        RandomModels.Weights weights = RandomModels.generate(config(4096), 5);
        PublishedModel published = RandomModels.publish(store, "tiny-random", weights, DType.BF16, TOKENIZER, "test");
        assertTrue(store.verify(published.dir()).ok(), store.verify(published.dir()).problems().toString());
        try (SafetensorsFile experts = SafetensorsFile.open(published.dir().resolve(ModelFiles.experts(1)));
                SafetensorsFile shared = SafetensorsFile.open(published.dir().resolve(ModelFiles.WEIGHTS))) {
            assertEquals(DType.BF16, experts.info(TensorNames.expertW1(1, 0)).dtype(), "expert matrices as asked");
            assertEquals(DType.F32, shared.info(TensorNames.router(1)).dtype(), "routers stay F32");
            assertEquals(DType.BF16, shared.info(TensorNames.attnWq(0)).dtype());
        }
        ReferenceLogits reference = ReferenceLogits.read(published.dir().resolve(ModelFiles.REFERENCE));
        assertEquals(4, reference.references().size());
        try (OpenedModel opened = store.open(published.dir())) {
            Engine engine = Engine.load(opened, Engine.Options.defaults().withMaxSequences(1));
            for (ReferenceLogits.Reference r : reference.references()) {
                float[] logits;
                try (Sequence s = engine.newSequence()) {
                    logits = engine.prefill(s, r.tokens());
                }
                double worst = 0;
                double scale = 0;
                for (int i = 0; i < logits.length; i++) {
                    worst = Math.max(worst, Math.abs(logits[i] - r.logits()[i]));
                    scale = Math.max(scale, Math.abs(r.logits()[i]));
                }
                assertTrue(scale > 0 && worst <= 1e-4 * scale, r.prompt() + ": " + worst + " of " + scale);
            }
        }
        assertTrue(Files.readString(published.dir().resolve(ModelFiles.MANIFEST)).contains("\"command\" : \"test\""));
    }

    @Test
    void aTokenizerOfAnotherVocabularyIsRefusedBeforeAnythingIsPublished(@TempDir Path root) throws Exception {
        ModelStore store = new ModelStore(root);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RandomModels.publish(store, "m", RandomModels.generate(config(300), 5), DType.F32, TOKENIZER, "test"));
        assertEquals("tokenizer " + TOKENIZER + " has 4096 tokens but the config's vocabulary is 300", e.getMessage());
        assertTrue(store.list().isEmpty());
    }
}
