package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.TensorNames;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ModelWeightsTest {
    static Stream<Architecture> architectures() {
        return Stream.of(TestModels.dense(), TestModels.switchUnbounded(), TestModels.topTwoUnbounded(),
                TestModels.hashRandom(), TestModels.hashBigram(), new Architecture.Ladder(2, TestModels.switchUnbounded()));
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void loadsEveryArchitectureInTheRequestedFormat(Architecture architecture) {
        ModelConfig config = TestModels.config(architecture);
        TestModels.Tensors t = TestModels.tensors(config, 1);
        ModelWeights f32 = ModelWeights.load(config, t.source(), null);
        assertEquals(WeightFormat.F32, f32.format(), "F32 sources load as F32");
        assertInstanceOf(Matrix.F32.class, f32.layers[0].wq());
        ModelWeights bf16 = ModelWeights.load(config, t.source(), WeightFormat.BF16);
        assertEquals(WeightFormat.BF16, bf16.format());
        assertInstanceOf(Matrix.Bf16.class, bf16.layers[1].w1()[0]);
        assertInstanceOf(Matrix.Bf16.class, bf16.head);
        if (bf16.layers[1].router() != null) {
            assertInstanceOf(Matrix.F32.class, bf16.layers[1].router(), "routers stay F32");
        }
        Architecture.Sparse sparse = architecture.sparse();
        for (int l = 0; l < config.layers(); l++) {
            boolean isSparse = architecture.isSparseLayer(l);
            assertEquals(isSparse ? sparse.experts() : 1, f32.layers[l].w1().length, "layer " + l);
            assertEquals(isSparse && !(sparse instanceof Architecture.Hash), f32.layers[l].router() != null);
        }
        assertEquals(sparse instanceof Architecture.Hash, f32.hash != null);
    }

    @Test
    void tiedEmbeddingsShareTheHead() {
        ModelConfig tied = new ModelConfig(TestModels.VOCAB, 12, 2, 2, 20, 24, true, 10000, 1e-5, TestModels.dense());
        ModelWeights w = ModelWeights.load(tied, TestModels.tensors(tied, 2).source(), null);
        assertSame(w.tokenEmbedding, w.head);
        ModelConfig untied = TestModels.config(TestModels.dense());
        ModelWeights u = ModelWeights.load(untied, TestModels.tensors(untied, 2).source(), null);
        assertNotSame(u.tokenEmbedding, u.head);
    }

    static Stream<String> requiredTensors() {
        return Stream.of(TensorNames.TOK_EMB, TensorNames.attnWk(1), TensorNames.ffnNorm(0), TensorNames.ffnW2(0),
                TensorNames.router(1), TensorNames.expertW1(1, 3), TensorNames.expertW2(1, 0), TensorNames.FINAL_NORM,
                TensorNames.LM_HEAD);
    }

    @ParameterizedTest
    @MethodSource("requiredTensors")
    void aMissingTensorIsNamed(String name) {
        ModelConfig config = TestModels.config(TestModels.switchUnbounded());
        TensorSource source = TestModels.tensors(config, 3).without(name).source();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(config, source, null));
        assertTrue(e.getMessage().contains("missing tensor '" + name + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("expected shape ["), "the expected shape is given: " + e.getMessage());
    }

    @Test
    void aMissingHashTableIsNamed() {
        ModelConfig config = TestModels.config(TestModels.hashRandom());
        TensorSource source = TestModels.tensors(config, 3).without(TensorNames.HASH_TABLE).source();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(config, source, null));
        assertTrue(e.getMessage().contains("'" + TensorNames.HASH_TABLE + "'") && e.getMessage().contains("[40]"), e.getMessage());
    }

    @Test
    void bigramHashNeedsNoTable() {
        ModelConfig config = TestModels.config(TestModels.hashBigram());
        ModelWeights w = ModelWeights.load(config, TestModels.tensors(config, 3).source(), null);
        assertEquals(3, w.hash.expert(0, 3), "bigram table is i mod experts");
        assertNull(w.layers[0].router());
    }

    @Test
    void aWrongShapeNamesTheTensorAndBothShapes() {
        ModelConfig config = TestModels.config(TestModels.switchUnbounded());
        for (String name : new String[] {TensorNames.attnWq(0), TensorNames.expertW2(1, 2), TensorNames.attnNorm(1)}) {
            TensorSource source = TestModels.tensors(config, 4).reshaped(name, 12, 13).source();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(config, source, null));
            String m = e.getMessage();
            assertTrue(m.contains("'" + name + "'") && m.contains("[12, 13]") && m.contains("memory"), m);
        }
        String m = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(config,
                TestModels.tensors(config, 4).reshaped(TensorNames.attnWv(1), 12, 12, 1).source(), null)).getMessage();
        assertTrue(m.contains("has shape [12, 12, 1], expected [12, 12]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(config,
                TestModels.tensors(config, 4).reshaped(TensorNames.expertW1(1, 1), 12, 20).source(), null)).getMessage();
        assertTrue(m.contains("has shape [12, 20], expected [20, 12]"), "a transposed matrix is caught: " + m);
    }

    /** A folder written for one config, loaded with another: the file of the misshapen tensor is named. */
    @Test
    void aWrongShapeInAFolderNamesTheFile(@TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        ModelConfig written = TinyModels.switchConfig();
        try (OpenedModel model = TestModels.publish(store, "tiny", written, DType.F32, 5)) {
            TensorSource files = TensorSource.of(model);
            ModelConfig wider = new ModelConfig(32, 8, 2, 2, 24, 16, false, 10000, 1e-5, written.architecture());
            String m = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(wider, files, null)).getMessage();
            assertTrue(m.contains("'" + TensorNames.ffnW1(0) + "' in model.safetensors has shape [16, 8], expected [24, 8]"), m);
            ModelConfig moreExperts = new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5, Architecture.Switch.defaults(5));
            m = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(moreExperts, files, null)).getMessage();
            assertTrue(m.contains("'" + TensorNames.router(1) + "' in model.safetensors has shape [4, 8], expected [5, 8]"), m);
            ModelConfig deeper = new ModelConfig(32, 8, 3, 2, 16, 16, false, 10000, 1e-5, written.architecture());
            m = assertThrows(IllegalArgumentException.class, () -> ModelWeights.load(deeper, files, null)).getMessage();
            assertTrue(m.contains("missing tensor '" + TensorNames.attnNorm(2) + "'"), m);
            ModelWeights ok = ModelWeights.load(written, files, null);
            assertEquals(WeightFormat.F32, ok.format());
        }
    }

    @Test
    void bf16FilesStayBf16UnlessF32IsAsked(@TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        try (OpenedModel model = TestModels.publish(store, "tiny-bf16", TinyModels.hashConfig(), DType.BF16, 6)) {
            ModelWeights kept = ModelWeights.load(model.config(), TensorSource.of(model), null);
            assertEquals(WeightFormat.BF16, kept.format());
            Matrix.Bf16 wq = assertInstanceOf(Matrix.Bf16.class, kept.layers[0].wq());
            ModelWeights widened = ModelWeights.load(model.config(), TensorSource.of(model), WeightFormat.F32);
            assertEquals(WeightFormat.F32, widened.format());
            Matrix.F32 wqF32 = assertInstanceOf(Matrix.F32.class, widened.layers[0].wq());
            for (int i = 0; i < wq.data().length; i++) {
                assertEquals(Matrix.Bf16.widen(wq.data()[i]), wqF32.data()[i], "the stored bits, widened exactly");
            }
        }
    }

    @Test
    void activeBytesPerTokenCountsWhatOneTokenReads() {
        long d = 12;
        long ff = 20;
        long v = TestModels.VOCAB;
        long attention = 4 * d * d * 4;
        long ffn = 2 * d * ff * 4;
        long embeddingRow = d * 4;
        long head = v * d * 4;
        ModelConfig dense = TestModels.config(TestModels.dense());
        assertEquals(2 * (attention + ffn) + embeddingRow + head,
                ModelWeights.load(dense, TestModels.tensors(dense, 7).source(), null).activeBytesPerToken());
        ModelConfig sw = TestModels.config(TestModels.switchUnbounded());
        long router = 4 * d * 4;
        assertEquals(2 * attention + ffn + (router + ffn) + embeddingRow + head,
                ModelWeights.load(sw, TestModels.tensors(sw, 7).source(), null).activeBytesPerToken(), "one expert of four");
        ModelConfig top2 = TestModels.config(TestModels.topTwoUnbounded());
        assertEquals(2 * (attention + router + 2 * ffn) + embeddingRow + head,
                ModelWeights.load(top2, TestModels.tensors(top2, 7).source(), null).activeBytesPerToken(), "two experts");
        ModelConfig ladder = TestModels.config(new Architecture.Ladder(3, TestModels.dense()));
        assertEquals(3 * 2 * (attention + ffn) + embeddingRow + head,
                ModelWeights.load(ladder, TestModels.tensors(ladder, 7).source(), null).activeBytesPerToken(), "every pass");
        assertEquals((2 * (attention + ffn) + embeddingRow + head) / 2,
                ModelWeights.load(dense, TestModels.tensors(dense, 7).source(), WeightFormat.BF16).activeBytesPerToken(),
                "half the bytes in BF16");
    }
}
