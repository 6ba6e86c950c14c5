package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.RemoteRank;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.ShardedCudaEngine;
import dev.switchback.kernels.engine.TensorSource;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.server.cluster.ShardWorkerClient;
import dev.switchback.server.onnx.Parity;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model sharded over two processes: rank 0 on GPU 0 in this JVM, rank 1 on GPU 1 in a {@code switchback
 * shard-worker} JVM driven over gRPC, the NCCL group joined with the id this process sends it. Expert 0 has a copy in
 * each process (its tokens split between them), the others one each. Logits, greedy tokens and routed counts equal one
 * GPU's, and the remote experts carry the worker's device label. Runs only where two CUDA devices and NCCL are found.
 */
@Tag("gpu")
class ShardAcrossProcessesTest {
    private static final double TOLERANCE = 1e-3;

    @Test
    void aRankInAnotherProcessDecodesWhatOneGpuDecodes(@TempDir Path store) throws Exception {
        PublishedModel model = publishTiny(store);
        ModelWeights w = weights(store, model);
        ModelConfig config = w.config();
        int experts = config.architecture().sparse().experts();
        int[][] on = new int[experts][];
        on[0] = new int[] {0, 1};
        for (int e = 1; e < experts; e++) {
            on[e] = new int[] {e % 2};
        }
        LayerPlacement p = new LayerPlacement(2, on);
        LayerPlacement[] byLayer = new LayerPlacement[config.layers()];
        for (int l = 0; l < byLayer.length; l++) {
            byLayer[l] = config.architecture().isSparseLayer(l) ? p : null;
        }
        try (ShardWorkerProcess worker = ShardWorkerProcess.start(store)) {
            String target = worker.target();
            CudaEngine.Options options = new CudaEngine.Options(4, 0, 4, 64, true);
            List<RemoteRank> remotes = List.of(new ShardWorkerClient(target, 1, model.dir().toString()));
            try (CudaDevice d0 = CudaDevice.open(0); CudaEngine one = new CudaEngine(w, d0, options);
                    ShardedCudaEngine two = ShardedCudaEngine.open(w, new int[] {0}, remotes, options, byLayer)) {
                int sparse = 0;
                while (!config.architecture().isSparseLayer(sparse)) {
                    sparse++;
                }
                assertEquals("cuda:0," + target + "/cuda:1", two.expertDevice(sparse, 0));
                assertEquals(target + "/cuda:1", two.expertDevice(sparse, 1));
                assertEquals(2, two.deviceBytes().size());
                Sequence a1 = one.newSequence();
                Sequence b1 = one.newSequence();
                Sequence a2 = two.newSequence();
                Sequence b2 = two.newSequence();
                int[] pa = {5, 9, 14, 3, 7};
                int[] pb = {11, 2, 8};
                float[][] expected = one.forward(List.of(new Engine.Step(a1, pa), new Engine.Step(b1, pb)));
                float[][] actual = two.forward(List.of(new Engine.Step(a2, pa), new Engine.Step(b2, pb)));
                for (int i = 0; i < 2; i++) {
                    double diff = relativeDifference(expected[i], actual[i]);
                    assertTrue(diff <= TOLERANCE, "row " + i + ": " + diff);
                }
                int[] next1 = {Parity.argmax(expected[0]), Parity.argmax(expected[1])};
                int[] next2 = next1.clone();
                List<CudaEngine.Sampling> greedy = List.of(CudaEngine.Sampling.GREEDY, CudaEngine.Sampling.GREEDY);
                List<Integer> tokens1 = new ArrayList<>();
                List<Integer> tokens2 = new ArrayList<>();
                for (int step = 0; step < 16; step++) {
                    next1 = one.decode(List.of(new Engine.Step(a1, new int[] {next1[0]}), new Engine.Step(b1, new int[] {next1[1]})), greedy);
                    next2 = two.decode(List.of(new Engine.Step(a2, new int[] {next2[0]}), new Engine.Step(b2, new int[] {next2[1]})), greedy);
                    tokens1.add(next1[0]);
                    tokens1.add(next1[1]);
                    tokens2.add(next2[0]);
                    tokens2.add(next2[1]);
                }
                assertEquals(tokens1, tokens2, "greedy tokens");
                long[][] routed1 = one.routedTokens();
                long[][] routed2 = two.routedTokens();
                for (int l = 0; l < routed1.length; l++) {
                    assertArrayEquals(routed1[l], routed2[l], "layer " + l + " routed counts");
                }
            }
        }
    }

    /**
     * A worker whose host lacks the model refuses in its Load, before any rank joins the NCCL group: the group fails at
     * once with the store's reason (not after the 30-second grace for ranks stranded in an exchange), and this process's
     * GPU is free for the next engine.
     */
    @Test
    void aWorkerWithoutTheModelFailsTheGroupBeforeAnyoneJoins(@TempDir Path store) throws Exception {
        ModelWeights w = weights(store, publishTiny(store));
        Path elsewhere = store.resolve("not-on-the-worker");
        try (ShardWorkerProcess worker = ShardWorkerProcess.start(store)) {
            CudaEngine.Options options = new CudaEngine.Options(4, 0, 4, 64, true);
            long start = System.nanoTime();
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> ShardedCudaEngine.open(w, new int[] {0}, List.of(new ShardWorkerClient(worker.target(), 1, elsewhere.toString())),
                            options, null));
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(e.getMessage().contains("FAILED_PRECONDITION") && e.getMessage().contains(elsewhere.toString()), e.getMessage());
            assertTrue(seconds < 20, "refused after " + seconds + " s");
            try (CudaDevice d0 = CudaDevice.open(0); CudaEngine one = new CudaEngine(w, d0, options)) {
                Sequence s = one.newSequence();
                assertEquals(1, one.forward(List.of(new Engine.Step(s, new int[] {5, 9}))).length);
            }
        }
    }

    /** The tiny servable model in {@code store}, where two GPUs and NCCL are found (else the test is skipped). */
    static PublishedModel publishTiny(Path store) throws Exception {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        return TinyModels.publishServable(new ModelStore(store), "tiny", 9);
    }

    static ModelWeights weights(Path store, PublishedModel model) throws Exception {
        try (OpenedModel opened = new ModelStore(store).open(model.dir())) {
            return ModelWeights.load(opened.config(), TensorSource.of(opened), WeightFormat.BF16);
        }
    }

    private static double relativeDifference(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += a[i] * (double) a[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }
}
