package dev.switchback.server.models;

import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.RemoteRank;
import dev.switchback.kernels.engine.RoutedCounts;
import dev.switchback.kernels.engine.ShardedCudaEngine;
import dev.switchback.kernels.engine.TensorSource;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.server.cluster.ShardWorkerClient;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** Loads a model with its experts sharded over several GPUs, placed as a {@link PlacementOption} says. */
public final class PlacementPlanner {
    private PlacementPlanner() {}

    /**
     * The model's experts over {@code gpus} and then the {@code workers}' GPUs (shard workers in other processes or on
     * other hosts, which load the model from the same folder path): contiguous shares when {@code option} is null;
     * {@code load} first serves the calibration text with contiguous shares to count each expert's tokens on the GPUs
     * themselves, then loads again with the planned placement (one spare copy per GPU for the busiest experts).
     * {@code log} hears the plan.
     */
    static ShardedCudaEngine open(OpenedModel opened, BpeTokenizer tokenizer, CudaEngine.Options cuda, int[] gpus,
            List<ServerOptions.ShardWorkerAddress> workers, PlacementOption option, Consumer<String> log) throws IOException {
        ModelConfig config = opened.config();
        ModelWeights w = ModelWeights.load(config, TensorSource.of(opened), WeightFormat.BF16);
        // Each engine opened below gets its own connections to the workers (a worker serves one rank at a time).
        String dir = opened.dir().toAbsolutePath().toString();
        Supplier<List<RemoteRank>> remotes = () -> workers.stream()
                .<RemoteRank>map(a -> new ShardWorkerClient(a.target(), a.gpu(), dir)).toList();
        int ranks = gpus.length + workers.size();
        if (option == null || config.architecture().sparse() == null) {
            return ShardedCudaEngine.open(w, gpus, remotes.get(), cuda, null);
        }
        int experts = config.architecture().sparse().experts();
        String name = opened.manifest().name();
        LayerPlacement[] byLayer = switch (option.strategy()) {
            case ROUND_ROBIN -> Placements.everySparseBlock(config, l -> Placements.roundRobin(experts, ranks));
            case STATIC_BALANCED -> {
                HashRouting hash = w.hashRouting();
                if (hash == null) {
                    throw new IllegalArgumentException("expert placement static-balanced needs a hash model's fixed routing"
                            + " table; " + name + " routes with a learned router (use load)");
                }
                LayerPlacement p = Placements.staticBalanced(hash, calibrationTokens(tokenizer, option), ranks);
                yield Placements.everySparseBlock(config, l -> p);
            }
            case LOAD -> {
                int[] sample = calibrationTokens(tokenizer, option);
                long[][] counts;
                try (ShardedCudaEngine probe = ShardedCudaEngine.open(w, gpus, remotes.get(), cuda, null)) {
                    counts = RoutedCounts.measure(probe, sample, cuda.maxTokens());
                }
                yield Placements.everySparseBlock(config, l -> Placements.load(counts[l], ranks, ranks));
            }
        };
        for (int l = 0; l < byLayer.length; l++) {
            if (byLayer[l] != null) {
                log.accept(String.format(java.util.Locale.ROOT, "%s block %d: %s placement, experts per GPU %s",
                        name, l, option.strategy().flag(), java.util.Arrays.toString(byLayer[l].expertsPerDevice())));
            }
        }
        return ShardedCudaEngine.open(w, gpus, remotes.get(), cuda, byLayer);
    }

    /** The first tokens of the calibration text (its lines in file order: the corpus's training split, then the rest). */
    private static int[] calibrationTokens(BpeTokenizer tokenizer, PlacementOption option) throws IOException {
        Corpus text = Corpus.load(option.calibration());
        List<String> lines = new ArrayList<>(text.trainTexts());
        lines.addAll(text.validationTexts());
        int[] ids = firstTokens(tokenizer, lines, option.calibrationTokens());
        if (ids.length == 0) {
            throw new IllegalArgumentException("calibration text " + option.calibration() + " gives no tokens");
        }
        return ids;
    }

    /** The first {@code limit} tokens of the texts, each followed by a newline as in training. */
    public static int[] firstTokens(BpeTokenizer tokenizer, List<String> texts, int limit) {
        List<int[]> parts = new ArrayList<>();
        int total = 0;
        for (String t : texts) {
            if (total >= limit) {
                break;
            }
            int[] ids = tokenizer.encodeOrdinary(t + "\n");
            parts.add(ids);
            total += ids.length;
        }
        int[] out = new int[Math.min(total, limit)];
        int at = 0;
        for (int[] p : parts) {
            int n = Math.min(p.length, out.length - at);
            System.arraycopy(p, 0, out, at, n);
            at += n;
        }
        return out;
    }
}
