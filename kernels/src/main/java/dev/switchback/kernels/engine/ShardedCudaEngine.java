package dev.switchback.kernels.engine;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * A model's experts sharded over several GPUs of this host: every GPU holds the dense weights and a share of each
 * sparse block's experts. The batch's sequences are split between the GPUs (each sequence stays on one, where its keys
 * and values are), and each GPU runs attention and the dense blocks for its own sequences only. In a sparse block the
 * GPUs exchange tokens over NCCL (communicators bootstrapped in-process): an all-gather gives every GPU all the
 * batch's normalised tokens, each computes its own experts' outputs for the tokens routed to them, and a
 * reduce-scatter sums those outputs back into each token's own GPU. Routing runs over the whole batch, identically
 * everywhere, so the expert counters are the first GPU's and capacity is counted over the batch as on one GPU. Each GPU
 * is driven by a thread of its own; sequences and KV block ids are shared bookkeeping. With graphs on, each GPU
 * replays a decode step captured for the step's shape (every GPU's token count), exchanges included.
 *
 * <p>A new sequence goes to the GPU holding the fewest sequences (then the fewest tokens in the call); one that starts
 * from cached prefix blocks goes to the GPU that wrote them. Every GPU allocates the whole KV pool, of which it uses
 * the blocks of its own sequences.
 *
 * <p>Bad calls are refused before any rank starts (the shared bookkeeping checks them once). A device error inside one
 * rank's step leaves the other ranks' exchanges without a partner: their step may never return, so the call can hang
 * (not handled yet: NCCL's abort would be the way out).
 */
public final class ShardedCudaEngine implements StepEngine {
    private final CudaDevice[] devices;
    private final CudaEngine[] ranks;
    private final ExecutorService[] threads;
    private final Nccl nccl;
    private final int[] firstExpert;
    /** Per block, the model's expert number of each engine-side number (null: the same numbers). */
    private final int[][] order;
    /** The routing counters in the model's expert numbers (rank 0's, renumbered back). */
    private final ExpertStats stats;
    /** Which GPU holds each sequence's keys and values. */
    private final RankAssignment assignment;
    private boolean closed;

    private ShardedCudaEngine(CudaDevice[] devices, CudaEngine[] ranks, ExecutorService[] threads, Nccl nccl, int[] firstExpert,
            int[][] order, ExpertStats stats) {
        this.devices = devices;
        this.ranks = ranks;
        this.threads = threads;
        this.nccl = nccl;
        this.firstExpert = firstExpert;
        this.order = order;
        this.stats = stats;
        this.assignment = new RankAssignment(ranks.length);
    }

    /**
     * Opens {@code gpus} (CUDA ordinals, each once) and loads {@code w} over them: dense weights on each, the experts
     * of every sparse block split into contiguous, near-equal shares in the order given.
     */
    public static ShardedCudaEngine open(ModelWeights w, int[] gpus, CudaEngine.Options options) {
        return open(w, gpus, options, null);
    }

    /**
     * {@link #open(ModelWeights, int[], CudaEngine.Options)} with the experts placed by {@code byLayer} (one per block,
     * null for dense blocks; null for contiguous shares): any placement with one copy of each expert and as many
     * experts on every GPU, such as {@code round-robin} or {@code static-balanced}. The experts are renumbered at load
     * so that each GPU's are contiguous; counters and labels keep the model's numbers.
     */
    public static ShardedCudaEngine open(ModelWeights w, int[] gpus, CudaEngine.Options options, LayerPlacement[] byLayer) {
        ModelConfig config = w.config();
        int experts = config.architecture().sparse() == null ? 1 : config.architecture().sparse().experts();
        if (gpus.length < 2) {
            throw new IllegalArgumentException("sharding needs at least 2 GPUs, got " + gpus.length);
        }
        if (experts < gpus.length) {
            throw new IllegalArgumentException(experts + " expert(s) per sparse block cannot be shared by " + gpus.length + " GPUs");
        }
        int[][] order = byLayer == null ? null : orders(config, byLayer, gpus.length);
        ModelWeights placed = order == null ? w : w.renumbered(order);
        Nccl nccl = Nccl.open(gpus);
        int n = gpus.length;
        CudaDevice[] devices = new CudaDevice[n];
        CudaEngine[] ranks = new CudaEngine[n];
        ExecutorService[] threads = new ExecutorService[n];
        int[] first = new int[n + 1];
        for (int r = 0; r <= n; r++) {
            first[r] = (int) ((long) experts * r / n);
        }
        ShardedCudaEngine engine = new ShardedCudaEngine(devices, ranks, threads, nccl, first, order,
                order == null ? null : new ExpertStats(config.layers(), experts));
        try {
            for (int r = 0; r < n; r++) {
                int rank = r;
                threads[r] = Executors.newSingleThreadExecutor(task -> {
                    Thread t = new Thread(task, "cuda-rank-" + rank);
                    t.setDaemon(true);
                    return t;
                });
                KvSequences shared = r == 0 ? null : ranks[0].sequences();
                engine.onRank(r, () -> {
                    devices[rank] = CudaDevice.open(gpus[rank]);
                    ranks[rank] = new CudaEngine(placed, devices[rank], options,
                            new CudaEngine.Shard(nccl, rank, first[rank], first[rank + 1], shared));
                    return null;
                });
            }
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
        return engine;
    }

    /**
     * Loads an opened model folder (BF16 weights) with its experts sharded over {@code gpus}, for a server; {@code byLayer}
     * as in {@link #open(ModelWeights, int[], CudaEngine.Options, LayerPlacement[])}.
     */
    public static ShardedCudaEngine load(dev.switchback.store.OpenedModel model, CudaEngine.Options options, int[] gpus,
            LayerPlacement[] byLayer) {
        return open(ModelWeights.load(model.config(), TensorSource.of(model), WeightFormat.BF16), gpus, options, byLayer);
    }

    /**
     * Per sparse block, the experts in engine order: GPU 0's (ascending), then GPU 1's, and so on; null when every
     * block's order is the model's own.
     */
    private static int[][] orders(ModelConfig config, LayerPlacement[] byLayer, int gpus) {
        int experts = config.architecture().sparse().experts();
        if (byLayer.length != config.layers()) {
            throw new IllegalArgumentException("a placement per block: " + byLayer.length + " for " + config.layers() + " blocks");
        }
        int[][] order = new int[config.layers()][];
        boolean identity = true;
        for (int l = 0; l < config.layers(); l++) {
            if (!config.architecture().isSparseLayer(l)) {
                continue;
            }
            LayerPlacement p = byLayer[l];
            if (p == null || p.devices() != gpus || p.experts() != experts) {
                throw new IllegalArgumentException("block " + l + " needs a placement of its " + experts + " experts on " + gpus + " GPUs");
            }
            int[] held = p.expertsPerDevice();
            for (int g = 0; g < gpus; g++) {
                if (held[g] != experts / gpus || experts % gpus != 0) {
                    throw new IllegalArgumentException("the GPU engine takes one copy of each expert and as many experts on every GPU;"
                            + " block " + l + " places " + java.util.Arrays.toString(held));
                }
            }
            int[] o = new int[experts];
            int at = 0;
            for (int g = 0; g < gpus; g++) {
                for (int e = 0; e < experts; e++) {
                    if (p.devicesOf(e)[0] == g) {
                        o[at++] = e;
                    }
                }
            }
            for (int i = 0; i < experts; i++) {
                identity &= o[i] == i;
            }
            order[l] = o;
        }
        return identity ? null : order;
    }

    /** Runs {@code task} on rank {@code r}'s thread and waits for it; its exception is rethrown here. */
    private <T> T onRank(int r, Callable<T> task) {
        try {
            return threads[r].submit(task).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while rank " + r + " worked", e);
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    /** Runs {@code step} on every rank at once (they meet in the sparse blocks) and returns each rank's result. */
    private <T> List<T> onAll(IntFunction<T> step) {
        List<Future<T>> results = new ArrayList<>();
        for (int r = 0; r < ranks.length; r++) {
            int rank = r;
            results.add(threads[r].submit(() -> step.apply(rank)));
        }
        List<T> values = new ArrayList<>();
        RuntimeException failure = null;
        for (int r = 0; r < results.size(); r++) {
            try {
                values.add(results.get(r).get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during a sharded step", e);
            } catch (ExecutionException e) {
                failure = failure != null ? failure : unwrap(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
        return values;
    }

    private static RuntimeException unwrap(ExecutionException e) {
        return e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
    }

    @Override
    public ModelConfig config() {
        return ranks[0].config();
    }

    @Override
    public KvSequences sequences() {
        return ranks[0].sequences();
    }

    /** The GPUs, one rank each. */
    public int ranks() {
        return ranks.length;
    }

    @Override
    public float[][] forward(List<Engine.Step> steps) {
        if (steps.isEmpty()) {
            return new float[0][];
        }
        sequences().begin(steps); // checked and reserved once, here, for every rank
        RankAssignment.Split split = assignment.split(steps);
        List<float[][]> parts = onAll(r -> ranks[r].forwardShard(split.own(r, steps), split.tokens(), split.ids(), split.previous()));
        float[][] out = new float[steps.size()][];
        for (int r = 0; r < ranks.length; r++) {
            int[] at = split.positions(r);
            for (int j = 0; j < at.length; j++) {
                out[at[j]] = parts.get(r)[j];
            }
        }
        finish(steps, split);
        return out;
    }

    /** {@link CudaEngine#decode}: each step's next token, sampled on the GPU that holds its sequence. */
    public int[] decode(List<Engine.Step> steps, List<CudaEngine.Sampling> sampling) {
        if (steps.isEmpty()) {
            return new int[0];
        }
        if (sampling.size() != steps.size()) {
            throw new IllegalArgumentException(steps.size() + " steps but " + sampling.size() + " sampling settings");
        }
        sequences().begin(steps);
        RankAssignment.Split split = assignment.split(steps);
        List<int[]> parts = onAll(r -> ranks[r].decodeShard(split.own(r, steps), split.own(r, sampling), split.tokens(),
                split.ids(), split.previous()));
        int[] out = new int[steps.size()];
        for (int r = 0; r < ranks.length; r++) {
            int[] at = split.positions(r);
            for (int j = 0; j < at.length; j++) {
                out[at[j]] = parts.get(r)[j];
            }
        }
        finish(steps, split);
        return out;
    }

    /** Commits the step, records which GPU now holds each sequence's blocks, and refreshes the counters. */
    private void finish(List<Engine.Step> steps, RankAssignment.Split split) {
        sequences().commit(steps);
        assignment.written(steps, split, sequences().pool());
        renumberStats();
    }

    @Override
    public ExpertStats expertStats() {
        return stats != null ? stats : ranks[0].expertStats();
    }

    /** Rank 0's counters, in engine numbers, copied into {@link #stats} under the model's numbers. */
    private void renumberStats() {
        if (order == null) {
            return;
        }
        ExpertStats engine = ranks[0].expertStats();
        for (int l = 0; l < order.length; l++) {
            if (order[l] != null) {
                for (int i = 0; i < order[l].length; i++) {
                    stats.setTotals(l, order[l][i], engine.routed(l, i), engine.dropped(l, i));
                }
            }
        }
    }

    /** Tokens routed to ([layer][expert], the model's numbers) since load, read from the first GPU. */
    public long[][] routedTokens() {
        long[][] engine = onRank(0, ranks[0]::routedTokens);
        if (order == null) {
            return engine;
        }
        long[][] out = new long[engine.length][];
        for (int l = 0; l < engine.length; l++) {
            out[l] = engine[l].clone();
            if (order[l] != null) {
                for (int i = 0; i < order[l].length; i++) {
                    out[l][order[l][i]] = engine[l][i];
                }
            }
        }
        return out;
    }

    @Override
    public String expertDevice(int layer, int expert) {
        if (!config().architecture().isSparseLayer(layer)) {
            return StepEngine.super.expertDevice(layer, expert);
        }
        int engineNumber = expert;
        if (order != null) {
            for (int i = 0; i < order[layer].length; i++) {
                if (order[layer][i] == expert) {
                    engineNumber = i;
                }
            }
        }
        for (int r = 0; r < ranks.length; r++) {
            if (engineNumber < firstExpert[r + 1]) {
                return devices[r].name();
            }
        }
        throw new IllegalArgumentException("expert " + expert + " of " + firstExpert[ranks.length]);
    }

    @Override
    public Map<String, Long> deviceBytes() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (CudaEngine r : ranks) {
            out.putAll(r.deviceBytes());
        }
        return out;
    }

    /** Weight bytes one decoded token reads on the GPU that holds its experts (as {@link CudaEngine} counts them). */
    public long activeWeightBytesPerToken() {
        return ranks[0].activeWeightBytesPerToken();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int r = 0; r < ranks.length; r++) {
            int rank = r;
            if (threads[r] != null) {
                onRank(r, () -> {
                    if (ranks[rank] != null) {
                        ranks[rank].close();
                    }
                    if (devices[rank] != null) {
                        devices[rank].close();
                    }
                    return null;
                });
                threads[r].shutdown();
            }
        }
        nccl.close();
    }
}
