package dev.switchback.kernels.engine;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;

/**
 * A model's experts sharded over several GPUs, of this process or of others ({@link RemoteRank}: a shard worker on this
 * host or another, driven over gRPC, joined to the group's NCCL communicators with a unique id made here): every GPU
 * holds the dense weights and a share of each sparse block's experts. The batch's sequences are split between the GPUs (each sequence stays on one, where its keys
 * and values are), and each GPU runs attention and the dense blocks for its own sequences only. In a sparse block the
 * GPUs exchange tokens over NCCL (communicators made in-process, or joined by id across processes): an all-gather gives every GPU all the
 * batch's normalised tokens, each computes its own experts' outputs for the tokens routed to them, and a
 * reduce-scatter sums those outputs back into each token's own GPU. Routing runs over the whole batch, identically
 * everywhere, so the expert counters are the first GPU's and capacity is counted over the batch as on one GPU. Each GPU
 * is driven by a thread of its own; sequences and KV block ids are shared bookkeeping. With graphs on, each GPU
 * replays a decode step captured for the step's shape (every GPU's token count), exchanges included.
 *
 * <p>Experts are placed per block by a {@link LayerPlacement}: any set of experts on each GPU, an expert with copies on
 * several GPUs having each step's routed tokens split into contiguous near-equal shares, one per copy (as the CPU
 * engine's {@link ExpertPlacement} splits them), so a hot expert's work is spread. Routing uses the model's expert
 * numbers everywhere, so counters need no renumbering.
 *
 * <p>A new sequence goes to the GPU holding the fewest sequences (then the fewest tokens in the call); one that starts
 * from cached prefix blocks goes to the GPU that wrote them. Every GPU allocates the whole KV pool, of which it uses
 * the blocks of its own sequences.
 *
 * <p>Bad calls are refused before any rank starts (the shared bookkeeping checks them once). A device error inside one
 * rank's step leaves the other ranks' exchanges without a partner: they get 30 seconds to finish (`-Dswitchback.cuda.strandedSeconds`), then
 * the error is thrown and the group refuses every later call ({@link RankCalls}) instead of hanging its caller, and
 * this process's communicators are aborted ({@code ncclCommAbort}), which ends the stranded ranks' exchanges so their
 * GPUs can run other work. Their memory stays held until the process ends: with the peer process dead the abort
 * itself does not return (seen on two H200s), so nothing the group holds can be freed safely.
 */
public final class ShardedCudaEngine implements StepEngine {
    /** Per rank: its device and engine when it runs in this process, else null (see {@link #remote}). */
    private final CudaDevice[] devices;
    private final CudaEngine[] ranks;
    /** Per rank: the rank when it runs in another process, else null. */
    private final RemoteRank[] remote;
    private final ExecutorService[] threads;
    /** Per rank of this process, its communicator (one object for all of them when every rank is here). */
    private final Nccl[] comms;
    /** Where each sparse block's experts are (null for dense blocks). */
    private final LayerPlacement[] placement;
    /** Which GPU holds each sequence's keys and values. */
    private final RankAssignment assignment;
    /** Calls on the ranks' threads; broken when a failed rank left others waiting in an exchange. */
    private final RankCalls calls;
    /** How long the other ranks get to finish a call after one rank failed ({@code -Dswitchback.cuda.strandedSeconds}). */
    private final long strandedSeconds = Long.getLong("switchback.cuda.strandedSeconds", 30);
    private boolean closed;

    private ShardedCudaEngine(CudaDevice[] devices, CudaEngine[] ranks, RemoteRank[] remote, ExecutorService[] threads,
            Nccl[] comms, LayerPlacement[] placement) {
        this.devices = devices;
        this.ranks = ranks;
        this.remote = remote;
        this.threads = threads;
        this.comms = comms;
        this.placement = placement;
        this.assignment = new RankAssignment(ranks.length);
        this.calls = new RankCalls(threads, TimeUnit.SECONDS.toNanos(strandedSeconds), this::abortExchanges);
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
     * null for dense blocks; null for contiguous shares): any placement of every expert on one or more of the GPUs,
     * such as {@code round-robin}, {@code static-balanced}, or {@code load} with copies of the busiest experts.
     */
    public static ShardedCudaEngine open(ModelWeights w, int[] gpus, CudaEngine.Options options, LayerPlacement[] byLayer) {
        return open(w, gpus, List.of(), options, byLayer);
    }

    /**
     * {@link #open(ModelWeights, int[], CudaEngine.Options, LayerPlacement[])} with ranks in other processes as well:
     * ranks 0 … {@code gpus.length − 1} on this process's {@code gpus}, then one rank per {@code remotes} entry. The
     * group's NCCL communicators are joined with a unique id made here, which each remote rank receives when it is
     * opened; every rank joins at once.
     */
    public static ShardedCudaEngine open(ModelWeights w, int[] gpus, List<RemoteRank> remotes, CudaEngine.Options options,
            LayerPlacement[] byLayer) {
        LayerPlacement[] placement;
        try {
            placement = checkedGroup(w.config(), gpus, remotes.size(), byLayer);
            // Every remote rank reads the model and opens its GPU first: once any rank joins the NCCL group, a rank
            // that fails leaves the others waiting in the join.
            loadAll(remotes);
        } catch (RuntimeException e) {
            for (RemoteRank r : remotes) {
                try {
                    r.close(); // not in a group yet
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        int n = gpus.length + remotes.size();
        CudaDevice[] devices = new CudaDevice[n];
        CudaEngine[] ranks = new CudaEngine[n];
        RemoteRank[] remote = new RemoteRank[n];
        ExecutorService[] threads = new ExecutorService[n];
        Nccl[] comms = new Nccl[n];
        ShardedCudaEngine engine = new ShardedCudaEngine(devices, ranks, remote, threads, comms, placement);
        try {
            for (int r = 0; r < n; r++) {
                int rank = r;
                threads[r] = Executors.newSingleThreadExecutor(task -> {
                    Thread t = new Thread(task, "cuda-rank-" + rank);
                    t.setDaemon(true);
                    return t;
                });
                if (r >= gpus.length) {
                    remote[r] = remotes.get(r - gpus.length);
                }
            }
            if (remotes.isEmpty()) {
                Nccl all = Nccl.open(gpus);
                java.util.Arrays.fill(comms, all);
                for (int r = 0; r < n; r++) {
                    int rank = r;
                    engine.onRank(r, () -> {
                        devices[rank] = CudaDevice.open(gpus[rank]);
                        return null;
                    });
                }
            } else {
                // Every rank joins at once: ncclCommInitRank returns when the whole group has joined.
                byte[] id = Nccl.uniqueId();
                engine.onAll(r -> {
                    if (r < gpus.length) {
                        devices[r] = CudaDevice.open(gpus[r]);
                        comms[r] = Nccl.join(id, n, r, gpus[r]);
                    } else {
                        remote[r].open(id, n, r, held(placement, r), options);
                    }
                    return null;
                });
            }
            for (int r = 0; r < gpus.length; r++) {
                int rank = r;
                KvSequences shared = r == 0 ? null : ranks[0].sequences();
                int[][] held = held(placement, rank);
                engine.onRank(r, () -> {
                    ranks[rank] = new CudaEngine(w, devices[rank], options, new CudaEngine.Shard(comms[rank], rank, held, shared));
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
     * Every remote rank loads at once, each reading the model on its own host. The first failure is thrown as soon as
     * it comes, without waiting for the others (the caller then closes every rank, which ends their loads).
     */
    private static void loadAll(List<RemoteRank> remotes) {
        if (remotes.size() <= 1) {
            remotes.forEach(RemoteRank::load);
            return;
        }
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            java.util.concurrent.CompletionService<Void> loads = new java.util.concurrent.ExecutorCompletionService<>(pool);
            for (RemoteRank r : remotes) {
                loads.submit(r::load, null);
            }
            for (int i = 0; i < remotes.size(); i++) {
                loads.take().get();
            }
        } catch (ExecutionException e) {
            throw unwrap(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the remote ranks loaded", e);
        } finally {
            pool.shutdown(); // not awaited: after a failure, the others' loads end when their ranks are closed
        }
    }

    /** The group's placement, or why the group cannot be made (before any device or worker is touched). */
    private static LayerPlacement[] checkedGroup(ModelConfig config, int[] gpus, int remotes, LayerPlacement[] byLayer) {
        int n = gpus.length + remotes;
        if (n < 2) {
            throw new IllegalArgumentException("sharding needs at least 2 GPUs, got " + n);
        }
        if (gpus.length == 0) {
            throw new IllegalArgumentException("the first rank runs in this process: give at least one local GPU");
        }
        if (config.architecture().sparse() == null) {
            throw new IllegalArgumentException("a dense model has no experts to shard over " + n + " GPUs");
        }
        int experts = config.architecture().sparse().experts();
        if (experts < n) {
            throw new IllegalArgumentException(experts + " expert(s) per sparse block cannot be shared by " + n + " GPUs");
        }
        return byLayer == null ? contiguous(config, n) : checked(config, byLayer, n);
    }

    /** Every sparse block's experts in contiguous, near-equal shares in the model's order. */
    private static LayerPlacement[] contiguous(ModelConfig config, int gpus) {
        LayerPlacement p = contiguousShares(config.architecture().sparse().experts(), gpus);
        return Placements.everySparseBlock(config, l -> p);
    }

    /** The placement used when none is given: GPU r holds experts ⌊E·r/N⌋ to ⌊E·(r+1)/N⌋ − 1. */
    public static LayerPlacement contiguousShares(int experts, int gpus) {
        int[][] replicas = new int[experts][];
        for (int r = 0; r < gpus; r++) {
            for (int e = (int) ((long) experts * r / gpus); e < (long) experts * (r + 1) / gpus; e++) {
                replicas[e] = new int[] {r};
            }
        }
        return new LayerPlacement(gpus, replicas);
    }

    private static LayerPlacement[] checked(ModelConfig config, LayerPlacement[] byLayer, int gpus) {
        int experts = config.architecture().sparse().experts();
        if (byLayer.length != config.layers()) {
            throw new IllegalArgumentException("a placement per block: " + byLayer.length + " for " + config.layers() + " blocks");
        }
        LayerPlacement[] out = new LayerPlacement[byLayer.length];
        for (int l = 0; l < byLayer.length; l++) {
            if (!config.architecture().isSparseLayer(l)) {
                continue;
            }
            LayerPlacement p = byLayer[l];
            if (p == null || p.devices() != gpus || p.experts() != experts) {
                throw new IllegalArgumentException("block " + l + " needs a placement of its " + experts + " experts on " + gpus + " GPUs");
            }
            int[] held = p.expertsPerDevice();
            for (int g = 0; g < gpus; g++) {
                if (held[g] == 0) {
                    throw new IllegalArgumentException("block " + l + " places no expert on GPU " + g + " of " + gpus);
                }
            }
            out[l] = p;
        }
        return out;
    }

    /** Rank {@code rank}'s (expert, share, copies) triples per block, experts ascending; null for dense blocks. */
    static int[][] held(LayerPlacement[] placement, int rank) {
        int[][] out = new int[placement.length][];
        for (int l = 0; l < placement.length; l++) {
            LayerPlacement p = placement[l];
            if (p == null) {
                continue;
            }
            int[] t = new int[3 * p.experts()];
            int at = 0;
            for (int e = 0; e < p.experts(); e++) {
                int[] on = p.devicesOf(e);
                for (int i = 0; i < on.length; i++) {
                    if (on[i] == rank) {
                        t[at++] = e;
                        t[at++] = i;
                        t[at++] = on.length;
                    }
                }
            }
            out[l] = java.util.Arrays.copyOf(t, at);
        }
        return out;
    }

    private <T> T onRank(int r, Callable<T> task) {
        return calls.one(r, task);
    }

    private <T> List<T> onAll(IntFunction<T> step) {
        return calls.all(step);
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
        List<float[][]> parts = onAll(r -> ranks[r] != null
                ? ranks[r].forwardShard(rankSteps(split.own(r, steps)), split.tokens(), split.ids(), split.previous())
                : remote[r].forward(rankSteps(split.own(r, steps)), split.tokens(), split.ids(), split.previous()));
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

    /**
     * {@link StepEngine#forward(List, boolean[], int[])}: when every row is greedy, the tokens are picked on the GPUs
     * that hold the sequences ({@link #decode}); otherwise every row's logits come back.
     */
    @Override
    public float[][] forward(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        StepEngine.checkPicks(steps, greedy, tokens);
        for (boolean g : greedy) {
            if (!g) {
                return forward(steps);
            }
        }
        int[] picked = decode(steps, java.util.Collections.nCopies(steps.size(), CudaEngine.Sampling.GREEDY));
        System.arraycopy(picked, 0, tokens, 0, picked.length);
        return new float[steps.size()][];
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
        List<int[]> parts = onAll(r -> ranks[r] != null
                ? ranks[r].decodeShard(rankSteps(split.own(r, steps)), split.own(r, sampling), split.tokens(), split.ids(),
                        split.previous())
                : remote[r].decode(rankSteps(split.own(r, steps)), split.own(r, sampling), split.tokens(), split.ids(),
                        split.previous()));
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

    private static List<CudaEngine.RankStep> rankSteps(List<Engine.Step> steps) {
        List<CudaEngine.RankStep> out = new ArrayList<>(steps.size());
        for (Engine.Step s : steps) {
            out.add(CudaEngine.RankStep.of(s));
        }
        return out;
    }

    /** Commits the step, records which GPU now holds each sequence's blocks, and refreshes the counters. */
    private void finish(List<Engine.Step> steps, RankAssignment.Split split) {
        sequences().commit(steps);
        assignment.written(steps, split, sequences().pool());
    }

    /** The first GPU's routing counters: routing runs over the whole batch identically on every GPU. */
    @Override
    public ExpertStats expertStats() {
        return ranks[0].expertStats();
    }

    /** Tokens routed to ([layer][expert]) since load, read from the first GPU. */
    public long[][] routedTokens() {
        return onRank(0, ranks[0]::routedTokens);
    }

    /** The GPU holding the expert, or every GPU holding a copy of it, comma-separated. */
    @Override
    public String expertDevice(int layer, int expert) {
        if (placement[layer] == null) {
            return StepEngine.super.expertDevice(layer, expert);
        }
        if (expert < 0 || expert >= placement[layer].experts()) {
            throw new IllegalArgumentException("expert " + expert + " of " + placement[layer].experts());
        }
        StringBuilder out = new StringBuilder();
        for (int r : placement[layer].devicesOf(expert)) {
            out.append(out.isEmpty() ? "" : ",").append(deviceName(r));
        }
        return out.toString();
    }

    private String deviceName(int rank) {
        return ranks[rank] != null ? devices[rank].name() : remote[rank].deviceName();
    }

    @Override
    public Map<String, Long> deviceBytes() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int r = 0; r < ranks.length; r++) {
            out.putAll(ranks[r] != null ? ranks[r].deviceBytes() : remote[r].deviceBytes());
        }
        return out;
    }

    /** Weight bytes one decoded token reads on the GPU that holds its experts (as {@link CudaEngine} counts them). */
    public long activeWeightBytesPerToken() {
        return ranks[0].activeWeightBytesPerToken();
    }

    /** This process's communicators aborted: what a broken group does so that its stranded ranks' kernels end. */
    private void abortExchanges() {
        for (Nccl c : distinctComms()) {
            c.abort();
        }
    }

    /** This process's communicators in rank order, each once (an in-process group's ranks share one). */
    private List<Nccl> distinctComms() {
        java.util.Set<Nccl> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        List<Nccl> out = new ArrayList<>();
        for (Nccl c : comms) {
            if (c != null && seen.add(c)) {
                out.add(c);
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (calls.broken() != null) {
            // Some ranks may wait in an exchange forever: their devices and communicators are left as they are (the
            // threads are daemons); the process should be restarted to get the GPUs back.
            for (ExecutorService t : threads) {
                if (t != null) {
                    t.shutdown();
                }
            }
            return;
        }
        RuntimeException failure = null;
        // Remote ranks close on their own threads while this process destroys its communicators: destroying a
        // communicator waits for the other ranks' (seen on two processes: the worker's ncclCommDestroy did not return
        // while this process waited for it before destroying its own).
        List<Future<?>> remoteCloses = new ArrayList<>();
        for (int r = 0; r < ranks.length; r++) {
            int rank = r;
            if (remote[r] != null && threads[r] != null) {
                remoteCloses.add(threads[r].submit(() -> remote[rank].close()));
            } else if (threads[r] != null) {
                try {
                    onRank(r, () -> {
                        if (ranks[rank] != null) {
                            ranks[rank].close();
                        }
                        if (devices[rank] != null) {
                            devices[rank].close();
                        }
                        return null;
                    });
                } catch (RuntimeException e) {
                    failure = failure != null ? failure : e;
                }
            }
        }
        for (Nccl c : distinctComms()) {
            try {
                c.close();
            } catch (RuntimeException e) {
                failure = failure != null ? failure : e;
            }
        }
        for (Future<?> f : remoteCloses) {
            try {
                f.get(strandedSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                failure = failure != null ? failure : unwrap(e);
            } catch (TimeoutException e) {
                failure = failure != null ? failure : new IllegalStateException("a remote rank did not close within "
                        + strandedSeconds + " s");
            }
        }
        for (ExecutorService t : threads) {
            if (t != null) {
                t.shutdown();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
