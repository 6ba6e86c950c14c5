package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.placement.PlacementStrategy;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.models.EngineGenerationService;
import dev.switchback.server.onnx.Parity;
import dev.switchback.server.models.PlacementOption;
import dev.switchback.server.models.ServerOptions;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server with a model's experts sharded over two GPUs ({@code --device cuda --gpus 0,1 --expert-placement
 * round-robin|load}): concurrent greedy requests get what one GPU's engine generates alone. With {@code load} the server
 * first reads a calibration text on the GPUs to count each expert's tokens, then reloads with the planned placement
 * (spare copies of the busiest experts on both GPUs). Runs only where two CUDA devices are found (tag {@code gpu}).
 */
@Tag("gpu")
class ShardedServingTest {
    static final int MAX_TOKENS = 12;

    /** {@code worker}: the second GPU is a rank of a {@code switchback shard-worker} in another JVM ({@code --shard-worker}). */
    @ParameterizedTest
    @CsvSource({"round-robin, false", "load, false", "load, true"})
    void requestsServedOnTwoGpusEqualOneGpusGreedyContinuation(String strategy, boolean worker, @TempDir Path store) throws Exception {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        PublishedModel model = TinyModels.publishServable(new ModelStore(store), "tiny", 9);
        List<String> prompts = List.of("In the beginning", "And God said", "the earth was without form", "darkness");
        List<List<Integer>> expected = new ArrayList<>();
        try (OpenedModel opened = new ModelStore(store).open(model.dir());
                CudaEngine one = CudaEngine.load(opened, CudaEngine.Options.defaults(), 0)) {
            var tokenizer = dev.switchback.store.tokenizer.BpeTokenizer.load(opened.tokenizerFile());
            for (String p : prompts) {
                List<Integer> ids = new ArrayList<>();
                try (Sequence s = one.newSequence()) {
                    float[] logits = one.prefill(s, tokenizer.encode(p));
                    for (int i = 0; i < MAX_TOKENS; i++) {
                        int next = Parity.argmax(logits);
                        ids.add(next);
                        if (next == tokenizer.endOfTextId()) {
                            break;
                        }
                        logits = one.forward(List.of(new Engine.Step(s, new int[] {next})))[0];
                    }
                }
                expected.add(ids);
            }
        }
        // Round-robin: the tiny model's 4 experts as 0, 2 on the first GPU and 1, 3 on the second. Load: planned on
        // a short text's counts, with two spare copies.
        Path text = store.resolve("calibration.txt");
        Files.writeString(text, String.join("\n", java.util.Collections.nCopies(20, String.join("\n", prompts))) + "\n");
        PlacementOption placement = strategy.equals("load") ? new PlacementOption(PlacementStrategy.LOAD, text, 2048)
                : PlacementOption.roundRobin();
        ServerOptions options = ServerOptions.defaults().withDevice("cuda:0,1").withModels(List.of("tiny"))
                .withExpertPlacement(placement);
        try (ShardWorkerProcess rank1 = worker ? ShardWorkerProcess.start(store) : null) {
            if (worker) {
                options = options.withShardWorkers(List.of(new ServerOptions.ShardWorkerAddress(rank1.target(), 1))).withDevice("cuda:0");
            }
            assertSameContinuations(store, options, prompts, expected);
        }
    }

    private static void assertSameContinuations(Path store, ServerOptions options, List<String> prompts,
                                                 List<List<Integer>> expected) throws Exception {
        try (EngineGenerationService service = new EngineGenerationService(new ModelStore(store), options, new PrometheusRegistry())) {
            service.started().get(120, TimeUnit.SECONDS);
            List<CompletableFuture<List<Integer>>> results = new ArrayList<>();
            for (String p : prompts) {
                CompletableFuture<List<Integer>> done = new CompletableFuture<>();
                List<Integer> ids = new CopyOnWriteArrayList<>();
                service.submit(new GenerationRequest("tiny", p, SamplingParams.greedy(MAX_TOKENS), false, null), new GenerationListener() {
                    @Override
                    public void onToken(TokenPiece piece) {
                        ids.add(piece.tokenId());
                    }

                    @Override
                    public void onComplete(Completion completion) {
                        done.complete(ids);
                    }

                    @Override
                    public void onError(GenerationException error) {
                        done.completeExceptionally(error);
                    }
                });
                results.add(done);
            }
            for (int i = 0; i < prompts.size(); i++) {
                assertEquals(expected.get(i), results.get(i).get(60, TimeUnit.SECONDS), prompts.get(i));
            }
        }
    }
}
