package dev.switchback.kernels.engine;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.switchback.kernels.cuda.Cublas;
import dev.switchback.kernels.cuda.CudaException;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.kernels.routing.RoutePlan;
import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine on one CUDA device: BF16 weights resident on the device (routers and norm gains F32), F32
 * activations and a paged F32 KV cache (a slot per Ladder pass × layer, as on the CPU), routing, grouped expert
 * FFNs, the output projection and sampling all on the device. Each call takes new tokens for some sequences
 * (prefill chunks or one decoded token each) like {@link Engine#forward}; a pure decode step of a given batch
 * size is captured once as a CUDA graph and replayed. Per-expert routed/dropped counters accumulate on the device
 * and are read only when asked. One thread drives an engine.
 */
public final class CudaEngine implements StepEngine {
    private final CudaDevice dev;
    /** Device bytes this engine allocated (weights, KV cache, work buffers); others may share the device. */
    private final long heldBytes;
    private final ModelConfig config;
    private final Options options;
    private final int d, dFf, vocab, heads, layers, passes, slots, experts, k, maxBlocks, blockSize;
    private final boolean learned, bigram;
    private final double capacityFactor;
    private final Layer[] layerWeights;
    private final long embedding, head, finalNorm, cos, sin, hashTable;
    private final long keys, values;
    /** The KV cache holds BF16 (else F32). */
    private final boolean kvBf16;
    private final KvSequences sequences;
    private final int totalBlocks;
    private final boolean ownsDevice;
    // Activations for up to maxTokens tokens and maxSequences rows of logits.
    private final long x, normed, qkv, att, hidden, routerLogits, expert, gate, slot, groupStart, grouped, lastNormed,
            logits, sampled;
    private final long routedTotal, droppedTotal;
    private final MemorySegment hostCounters;
    private final ExpertStats stats;
    // Per-call inputs: one pinned host block copied to one device block.
    private final MemorySegment hostMeta;
    private final long meta;
    private final long ids, prev, pos, tokSeq, lastRow, table, temperature, topP, seeds, allIds, allPrev;
    private final long idsOff, prevOff, posOff, tokSeqOff, lastRowOff, tableOff, temperatureOff, topPOff, seedsOff, allIdsOff,
            allPrevOff, metaBytes;
    /** Captured decode steps by shape: batch size and sampling (and with a shard, every rank's token count). */
    private final Map<List<Integer>, Long> graphs = new HashMap<>();
    private final Cublas cublas;
    private final long inputBf16;
    /**
     * Batched expert matmuls on cuBLAS ({@link #sparseBlock}): most padded rows (entries × capacity) per call, the
     * pointer arrays' stride (most entries: the most groups a block holds), the gathered BF16 inputs, the GELU'd
     * hidden rows in BF16 and the outputs (F32; the first matmul's F32 output goes to {@code hidden}), and six
     * device arrays of pointers. {@code expertPointers} is 0 when experts always run on the grouped kernel.
     */
    private final int expertRows, expertStride;
    private final long expertIn, expertHiddenBf16, expertOut, expertPointers;
    /** The device buffer whose rows inputBf16 holds rounded to BF16 at this point of the enqueued step (0: none). */
    private long bf16Holds;
    private final MemorySegment hostLogits;
    private final MemorySegment hostSampled;
    private boolean closed;

    /**
     * The device weights of one block; {@code w1/w2} hold the block's FFN matrices back to back: one when dense, every
     * expert when sparse, or with a shard the experts this rank holds, in its order. {@code held} is the number of
     * those experts and {@code local} (with a shard) their device table of (expert, share, copies) triples.
     */
    private record Layer(long attnNorm, long wqkv, long wo, long ffnNorm, long router, long w1, long w2, boolean sparse,
            int held, long local) {}

    /**
     * One rank of an expert-sharded group ({@link ShardedCudaEngine}): the communicators that exchange the ranks' tokens,
     * the sequences the group shares (null for the first rank, which makes them), and per block ({@code null} for dense
     * ones) the experts this device computes, as triples (expert, share, copies): the rank holds that expert's
     * weights and computes share {@code share} of {@code copies} contiguous near-equal shares of its routed tokens
     * ({@link dev.switchback.kernels.placement.LayerPlacement#shareStart}).
     */
    record Shard(Nccl nccl, int rank, int[][] held, KvSequences sequences) {
        Shard {
            held = held.clone();
        }

        /** Experts (copies) this rank holds in block {@code l}. */
        int count(int l) {
            return held[l] == null ? 0 : held[l].length / 3;
        }
    }

    /** Null when this engine computes every expert itself. */
    private final Shard shard;
    /** With a shard: each sparse block's share of the routed slots (starts and slots), rebuilt per block. */
    private final long shareStart, shareGrouped;
    /**
     * With a shard: every rank's tokens of a sparse block, normalised ({@code gathered}), and this rank's experts' outputs
     * for them ({@code moe}, with this rank's residual rows in its own segment), which the ranks sum back to each
     * token's own rank.
     */
    private final long gathered, moe;
    /**
     * With a shard, for the call being run: every rank's token count (rank-major order), and every rank's part of the
     * exchanged rows as a count and an offset in floats.
     */
    private int[] rankTokens;
    private long[] rankFloats, rankFloatOffsets;
    private int allTokens;

    /**
     * @param kvBlockSize positions per KV block
     * @param kvBlocks blocks in the pool (0: enough for {@code maxSequences} full contexts)
     * @param maxSequences most sequences in one call
     * @param maxTokens most tokens in one call (prefill chunks included)
     * @param graphs capture decode steps as CUDA graphs
     * @param gemmMinTokens calls of at least this many tokens run dense matmuls on cuBLAS with BF16 inputs (0: never)
     * @param expertGemm such calls also run a learned router's experts as batched cuBLAS matmuls (tokens gathered per
     *     expert up to the routing capacity) where the padded rows fit the work buffers; else the engine's grouped kernel
     * @param kvFormat how the device's KV cache stores keys and values: F32, or BF16 (half the bytes per position;
     *     attention still computes in F32)
     */
    public record Options(int kvBlockSize, int kvBlocks, int maxSequences, int maxTokens, boolean graphs, int gemmMinTokens,
            boolean expertGemm, KvFormat kvFormat) {
        public Options {
            if (kvBlockSize < 1 || kvBlocks < 0 || maxSequences < 1 || maxTokens < maxSequences || gemmMinTokens < 0
                    || kvFormat == null) {
                throw new IllegalArgumentException("bad CUDA engine options: kvBlockSize " + kvBlockSize + ", kvBlocks "
                        + kvBlocks + ", maxSequences " + maxSequences + ", maxTokens " + maxTokens + ", gemmMinTokens "
                        + gemmMinTokens + ", kvFormat " + kvFormat + " (need ≥ 1, ≥ 0, ≥ 1, ≥ maxSequences, ≥ 0, a format)");
            }
        }

        public Options(int kvBlockSize, int kvBlocks, int maxSequences, int maxTokens, boolean graphs, int gemmMinTokens) {
            this(kvBlockSize, kvBlocks, maxSequences, maxTokens, graphs, gemmMinTokens, true, KvFormat.F32);
        }

        public Options(int kvBlockSize, int kvBlocks, int maxSequences, int maxTokens, boolean graphs) {
            this(kvBlockSize, kvBlocks, maxSequences, maxTokens, graphs, 16);
        }

        public static Options defaults() {
            return new Options(16, 0, 64, 2048, true, 16);
        }

        /** Calls of at least this many tokens run their dense matmuls on cuBLAS (BF16 tensor cores); 0: never. */
        public Options withGemmMinTokens(int tokens) {
            return new Options(kvBlockSize, kvBlocks, maxSequences, maxTokens, graphs, tokens, expertGemm, kvFormat);
        }

        /** Whether those calls also run a learned router's experts as batched cuBLAS matmuls. */
        public Options withExpertGemm(boolean on) {
            return new Options(kvBlockSize, kvBlocks, maxSequences, maxTokens, graphs, gemmMinTokens, on, kvFormat);
        }

        /** Keys and values stored on the device as {@code format}. */
        public Options withKvFormat(KvFormat format) {
            return new Options(kvBlockSize, kvBlocks, maxSequences, maxTokens, graphs, gemmMinTokens, expertGemm, format);
        }
    }

    /** How to pick each step's next token on the device: greedy when temperature is 0. */
    public record Sampling(float temperature, float topP, long seed) {
        public static final Sampling GREEDY = new Sampling(0, 1, 0);
    }

    /** An engine on {@code dev} (which the caller keeps and closes). */
    public CudaEngine(ModelWeights w, CudaDevice dev, Options options) {
        this(w, dev, options, false, null);
    }

    /**
     * Rank {@code rank} of a sharded group whose other ranks run in other processes (a shard worker): the experts of
     * {@code held} (per block, (expert, share, copies) triples; null for dense blocks) on {@code dev}, exchanging tokens
     * over {@code nccl}. The calls come through {@link #forwardShard} and {@link #decodeShard}.
     */
    public static CudaEngine rankOfGroup(ModelWeights w, CudaDevice dev, Options options, Nccl nccl, int rank, int[][] held) {
        return new CudaEngine(w, dev, options, new Shard(nccl, rank, held, null));
    }

    /** One rank of a {@link ShardedCudaEngine} on {@code dev} (which the caller keeps and closes). */
    CudaEngine(ModelWeights w, CudaDevice dev, Options options, Shard shard) {
        this(w, dev, options, false, shard);
    }

    /**
     * Opens CUDA device {@code device} and loads an opened model folder onto it (BF16 weights), for a server:
     * the engine owns the device and closes it with itself.
     */
    public static CudaEngine load(dev.switchback.store.OpenedModel model, Options options, int device) {
        ModelWeights w = ModelWeights.load(model.config(), TensorSource.of(model), WeightFormat.BF16);
        CudaDevice dev = CudaDevice.open(device);
        try {
            return new CudaEngine(w, dev, options, true, null);
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    private CudaEngine(ModelWeights w, CudaDevice dev, Options options, boolean ownsDevice, Shard shard) {
        long allocatedBefore = dev.allocatedBytes();
        this.dev = dev;
        this.ownsDevice = ownsDevice;
        this.config = w.config();
        this.options = options;
        this.d = config.dModel();
        this.dFf = config.dFf();
        this.vocab = config.vocabSize();
        this.heads = config.heads();
        this.layers = config.layers();
        this.passes = config.architecture().passes();
        this.slots = passes * layers;
        Architecture.Sparse sparse = config.architecture().sparse();
        this.experts = sparse == null ? 1 : sparse.experts();
        this.shard = shard;
        if (shard != null) {
            checkHeld(config, experts, shard);
        }
        this.k = switch (sparse) {
            case Architecture.TopK t -> t.k();
            case null, default -> 1;
        };
        this.learned = sparse instanceof Architecture.Switch || sparse instanceof Architecture.TopK;
        this.capacityFactor = switch (sparse) {
            case Architecture.Switch s -> s.capacityFactorEval();
            case Architecture.TopK t -> t.capacityFactorEval();
            case null, default -> 0;
        };
        this.bigram = sparse instanceof Architecture.Hash h && h.table() == Architecture.HashKind.bigram;
        this.blockSize = options.kvBlockSize();
        this.kvBf16 = options.kvFormat() == KvFormat.BF16;
        this.maxBlocks = (config.contextLength() + blockSize - 1) / blockSize;
        this.totalBlocks = options.kvBlocks() > 0 ? options.kvBlocks() : maxBlocks * options.maxSequences();
        long notHeld = 0; // experts of the model whose weights this device does not hold (copies held count again)
        for (int l = 0; l < layers; l++) {
            if (config.architecture().isSparseLayer(l)) {
                notHeld += experts - (shard == null ? experts : shard.count(l));
            }
        }
        long weightBytes = 2L * config.totalParameters() - 2L * notHeld * 2L * d * dFf;
        long kvBytes = 2L * options.kvFormat().bytesPerElement() * totalBlocks * slots * blockSize * d;
        long free = dev.runtime().memoryInfo()[0];
        if (weightBytes + kvBytes > free) {
            throw new dev.switchback.kernels.cuda.CudaException(String.format(java.util.Locale.ROOT,
                    "%s has %,d MiB free but this model needs about %,d MiB (BF16 weights %,d MiB, KV cache %,d MiB);"
                            + " give it a smaller KV cache or a larger GPU", dev.name(), free >> 20,
                    (weightBytes + kvBytes) >> 20, weightBytes >> 20, kvBytes >> 20));
        }

        layerWeights = new Layer[layers];
        for (int l = 0; l < layers; l++) {
            ModelWeights.Layer lw = w.layers[l];
            long wqkv = dev.malloc(2L * 3 * d * d);
            uploadBf16(wqkv, 0, lw.wq());
            uploadBf16(wqkv, 2L * d * d, lw.wk());
            uploadBf16(wqkv, 4L * d * d, lw.wv());
            long wo = dev.malloc(2L * d * d);
            uploadBf16(wo, 0, lw.wo());
            boolean sparseBlock = lw.w1().length > 1;
            boolean sharded = sparseBlock && shard != null;
            int e = sharded ? shard.count(l) : lw.w1().length;
            long w1 = dev.malloc(2L * e * dFf * d);
            long w2 = dev.malloc(2L * e * d * dFf);
            for (int j = 0; j < e; j++) {
                int src = sharded ? shard.held()[l][3 * j] : j;
                uploadBf16(w1, 2L * j * dFf * d, lw.w1()[src]);
                uploadBf16(w2, 2L * j * d * dFf, lw.w2()[src]);
            }
            long router = lw.router() == null ? 0 : dev.upload(((Matrix.F32) lw.router()).data());
            layerWeights[l] = new Layer(dev.upload(lw.attnNorm()), wqkv, wo, dev.upload(lw.ffnNorm()), router, w1, w2, sparseBlock,
                    e, sharded ? dev.upload(shard.held()[l]) : 0);
        }
        embedding = dev.malloc(2L * vocab * d);
        uploadBf16(embedding, 0, w.tokenEmbedding);
        if (w.head == w.tokenEmbedding) {
            head = embedding;
        } else {
            head = dev.malloc(2L * vocab * d);
            uploadBf16(head, 0, w.head);
        }
        finalNorm = dev.upload(w.finalNorm);
        Attention.Rotary rotary = new Attention.Rotary(config.headSize(), config.contextLength(), config.ropeTheta());
        cos = dev.upload(rotary.cosTable());
        sin = dev.upload(rotary.sinTable());
        hashTable = w.hash == null ? 0 : dev.upload(w.hash.table());

        long blockFloats = (long) slots * blockSize * d;
        keys = dev.zeros((long) options.kvFormat().bytesPerElement() * totalBlocks * blockFloats);
        values = dev.zeros((long) options.kvFormat().bytesPerElement() * totalBlocks * blockFloats);
        sequences = shard != null && shard.sequences() != null ? shard.sequences()
                : new KvSequences(new BlockPool(totalBlocks, blockSize, slots, d, false, options.kvFormat()), config);

        int tokens = options.maxTokens();
        int seqs = options.maxSequences();
        x = dev.malloc(4L * tokens * d);
        moe = shard == null ? 0 : dev.malloc(4L * tokens * d);
        gathered = shard == null ? 0 : dev.malloc(4L * tokens * d);
        shareStart = shard == null ? 0 : dev.malloc(4L * (experts + 1));
        shareGrouped = shard == null ? 0 : dev.malloc(4L * tokens * k);
        normed = dev.malloc(4L * tokens * d);
        qkv = dev.malloc(4L * tokens * 3 * d);
        att = dev.malloc(4L * tokens * d);
        hidden = dev.malloc(4L * tokens * k * dFf);
        routerLogits = dev.malloc(4L * tokens * experts);
        expert = dev.malloc(4L * tokens * k);
        gate = dev.malloc(4L * tokens * k);
        slot = dev.malloc(4L * tokens * k);
        groupStart = dev.malloc(4L * (experts + 1));
        grouped = dev.malloc(4L * tokens * k);
        lastNormed = dev.malloc(4L * seqs * d);
        logits = dev.malloc(4L * seqs * vocab);
        sampled = dev.malloc(4L * seqs);
        // Routed and dropped totals side by side, so one copy brings both back with each step's results.
        routedTotal = dev.zeros(16L * layers * experts);
        droppedTotal = routedTotal + 8L * layers * experts;

        // Inputs of a call, laid out once: ids, prev, pos, tokSeq [tokens]; lastRow [seqs]; table [seqs·maxBlocks];
        // temperature, topP [seqs]; seeds [seqs] (8-byte aligned).
        long off = 0;
        idsOff = off;
        off += 4L * tokens;
        prevOff = off;
        off += 4L * tokens;
        posOff = off;
        off += 4L * tokens;
        tokSeqOff = off;
        off += 4L * tokens;
        lastRowOff = off;
        off += 4L * seqs;
        tableOff = off;
        off += 4L * seqs * maxBlocks;
        temperatureOff = off;
        off += 4L * seqs;
        topPOff = off;
        off += 4L * seqs;
        allIdsOff = off;
        off += 4L * tokens;
        allPrevOff = off;
        off += 4L * tokens;
        off = (off + 7) & ~7L;
        seedsOff = off;
        off += 8L * seqs;
        metaBytes = off;
        Cudart rt = dev.runtime();
        hostMeta = rt.mallocHost(metaBytes);
        meta = dev.malloc(metaBytes);
        ids = meta + idsOff;
        prev = meta + prevOff;
        pos = meta + posOff;
        tokSeq = meta + tokSeqOff;
        lastRow = meta + lastRowOff;
        table = meta + tableOff;
        temperature = meta + temperatureOff;
        topP = meta + topPOff;
        seeds = meta + seedsOff;
        allIds = meta + allIdsOff;
        allPrev = meta + allPrevOff;
        Cublas blas = null;
        if (options.gemmMinTokens() > 0) {
            try {
                blas = Cublas.open(dev);
            } catch (CudaException e) {
                System.err.println("switchback: " + e.getMessage() + "; large batches use the engine's own matmuls");
            }
        }
        cublas = blas;
        inputBf16 = blas == null ? 0 : dev.malloc(2L * tokens * Math.max(d, dFf));
        boolean expertGemm = blas != null && learned && options.expertGemm() && d % 8 == 0 && dFf % 8 == 0;
        int stride = 0;
        for (Layer lw : layerWeights) {
            stride = Math.max(stride, lw.sparse() ? lw.held() : 0);
        }
        // As many padded rows as the grouped kernel's hidden buffer has rows, which the first matmul then writes.
        expertRows = expertGemm ? tokens * k : 0;
        expertStride = stride;
        expertIn = expertGemm ? dev.malloc(2L * expertRows * d) : 0;
        expertHiddenBf16 = expertGemm ? dev.malloc(2L * expertRows * dFf) : 0;
        expertOut = expertGemm ? dev.malloc(4L * expertRows * d) : 0;
        expertPointers = expertGemm ? dev.malloc(8L * 6 * stride) : 0;
        hostLogits = rt.mallocHost(4L * seqs * vocab);
        hostCounters = rt.mallocHost(16L * layers * experts);
        stats = new ExpertStats(layers, experts);
        hostSampled = rt.mallocHost(4L * seqs);
        heldBytes = dev.allocatedBytes() - allocatedBefore;
        dev.synchronize();
    }

    /** Uploads a matrix as BF16 (rounding F32 weights to nearest even) at {@code dst + offset}. */
    private void uploadBf16(long dst, long offset, Matrix m) {
        short[] bits = switch (m) {
            case Matrix.Bf16 b -> b.data();
            case Matrix.F32 f -> {
                short[] s = new short[f.data().length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = Matrix.Bf16.round(f.data()[i]);
                }
                yield s;
            }
        };
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(2L * bits.length, 16);
            MemorySegment.copy(bits, 0, seg, java.lang.foreign.ValueLayout.JAVA_SHORT, 0, bits.length);
            dev.upload(dst + offset, seg, 2L * bits.length);
        }
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public String expertDevice(int layer, int expert) {
        return dev.name();
    }

    /** Everything this engine allocated on its GPU: weights, KV cache and work buffers. */
    @Override
    public java.util.Map<String, Long> deviceBytes() {
        return java.util.Map.of(dev.name(), heldBytes);
    }

    public CudaDevice device() {
        return dev;
    }

    @Override
    public KvSequences sequences() {
        return sequences;
    }

    /**
     * Appends each step's tokens and returns the next-token logits of each step ([steps][vocab]), copied to the
     * host.
     */
    @Override
    public float[][] forward(List<Engine.Step> steps) {
        if (steps.isEmpty()) {
            return new float[0][];
        }
        refuseShard();
        run(prepare(steps, null), steps.size(), false);
        return finishWithLogits(steps.size(), steps);
    }

    /**
     * {@link StepEngine#forward(List, boolean[], int[])}: the greedy rows' tokens are picked on the device (the step
     * replays the sampling graph of its batch size), and logits cross to the host only when some row needs them.
     */
    @Override
    public float[][] forward(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        return launch(steps, greedy, tokens).await();
    }

    /** {@link #forward(List, boolean[], int[])} queued on the device's stream; await copies the results out. */
    @Override
    public Launched launch(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        StepEngine.checkPicks(steps, greedy, tokens);
        int rows = steps.size();
        if (rows == 0) {
            return () -> new float[0][];
        }
        refuseShard();
        int picked = 0;
        for (boolean g : greedy) {
            picked += g ? 1 : 0;
        }
        boolean pick = picked > 0;
        boolean bringLogits = picked < rows;
        run(prepare(steps, pick ? java.util.Collections.nCopies(rows, Sampling.GREEDY) : null), rows, pick);
        if (pick) {
            dev.runtime().memcpyAsync(hostSampled.address(), sampled, 4L * rows, Cudart.D2H, dev.stream());
        }
        if (bringLogits) {
            dev.runtime().memcpyAsync(hostLogits.address(), logits, 4L * rows * vocab, Cudart.D2H, dev.stream());
        }
        return new Launched() {
            @Override
            public float[][] await() {
                finishStep(steps);
                float[][] out = new float[rows][];
                for (int i = 0; i < rows; i++) {
                    if (greedy[i]) {
                        tokens[i] = hostSampled.getAtIndex(JAVA_INT, i);
                    } else {
                        out[i] = new float[vocab];
                        MemorySegment.copy(hostLogits, JAVA_FLOAT, 4L * i * vocab, out[i], 0, vocab);
                    }
                }
                return out;
            }

            @Override
            public boolean running() {
                return true;
            }
        };
    }

    /**
     * Brings the step's logits back with its counters, waits for the step, and returns one row per step;
     * {@code commit}: the steps to record in this engine's own sequences (null for a rank of a group).
     */
    private float[][] finishWithLogits(int rows, List<Engine.Step> commit) {
        if (rows > 0) {
            dev.runtime().memcpyAsync(hostLogits.address(), logits, 4L * rows * vocab, Cudart.D2H, dev.stream());
        }
        finishStep(commit);
        float[][] out = new float[rows][vocab];
        for (int i = 0; i < rows; i++) {
            MemorySegment.copy(hostLogits, JAVA_FLOAT, 4L * i * vocab, out[i], 0, vocab);
        }
        return out;
    }

    /**
     * Appends each step's tokens and picks each step's next token on the device (only the token ids cross to
     * the host). A call whose steps are one token each replays a captured graph for its batch size.
     */
    public int[] decode(List<Engine.Step> steps, List<Sampling> sampling) {
        if (steps.isEmpty()) {
            return new int[0];
        }
        if (sampling.size() != steps.size()) {
            throw new IllegalArgumentException(steps.size() + " steps but " + sampling.size() + " sampling settings");
        }
        refuseShard();
        int n = prepare(steps, sampling);
        run(n, steps.size(), true);
        dev.runtime().memcpyAsync(hostSampled.address(), sampled, 4L * steps.size(), Cudart.D2H, dev.stream());
        finishStep(steps);
        int[] out = new int[steps.size()];
        MemorySegment.copy(hostSampled, JAVA_INT, 0, out, 0, out.length);
        return out;
    }

    /**
     * One sequence's part of a rank's call, as plain values (so that it can be sent to a rank in another process): the
     * tokens to append, the position of the first, the sequence's KV block ids (already reserved for these tokens), and
     * the token before the first (0 at position 0; hash routing by bigram reads it).
     */
    public record RankStep(int[] tokens, int start, int[] blocks, int previous) {
        /** The step of a sequence whose blocks are reserved for it ({@link KvSequences#begin}). */
        public static RankStep of(Engine.Step step) {
            Sequence q = step.sequence();
            return new RankStep(step.tokens(), q.length(), q.cache().blocks(), q.previous(q.length(), step.tokens(), 0));
        }
    }

    /**
     * A sharded rank's part of a step ({@link ShardedCudaEngine}): {@code own} are the steps of the sequences this rank
     * holds (possibly none), {@code tokensPerRank} every rank's token count in rank order, and {@code allIds} /
     * {@code allPrev} every rank's tokens and their predecessors in that order (hash routing reads them). Every rank
     * must make the same call at the same time: the ranks meet in each sparse block. Returns this rank's rows.
     */
    public float[][] forwardShard(List<RankStep> own, int[] tokensPerRank, int[] allIds, int[] allPrev) {
        run(prepareShard(own, null, tokensPerRank, allIds, allPrev), own.size(), false);
        return finishWithLogits(own.size(), null);
    }

    /** {@link #forwardShard} that samples each own step's next token on the device. */
    public int[] decodeShard(List<RankStep> own, List<Sampling> sampling, int[] tokensPerRank, int[] allIds, int[] allPrev) {
        int n = prepareShard(own, sampling, tokensPerRank, allIds, allPrev);
        run(n, own.size(), true);
        if (!own.isEmpty()) {
            dev.runtime().memcpyAsync(hostSampled.address(), sampled, 4L * own.size(), Cudart.D2H, dev.stream());
        }
        finishStep(null);
        int[] out = new int[own.size()];
        MemorySegment.copy(hostSampled, JAVA_INT, 0, out, 0, out.length);
        return out;
    }

    /** A shard's expert table per block: triples of a valid expert, share and copy count, each expert at most once. */
    private static void checkHeld(ModelConfig config, int experts, Shard shard) {
        if (shard.held().length != config.layers()) {
            throw new IllegalArgumentException("a shard lists experts for " + shard.held().length + " of " + config.layers() + " blocks");
        }
        for (int l = 0; l < config.layers(); l++) {
            int[] t = shard.held()[l];
            if (!config.architecture().isSparseLayer(l)) {
                if (t != null) {
                    throw new IllegalArgumentException("block " + l + " is dense but the shard lists experts for it");
                }
                continue;
            }
            if (t == null || t.length == 0 || t.length % 3 != 0) {
                throw new IllegalArgumentException("block " + l + ": rank " + shard.rank() + " needs (expert, share, copies) triples");
            }
            boolean[] seen = new boolean[experts];
            for (int j = 0; j < t.length; j += 3) {
                if (t[j] < 0 || t[j] >= experts || seen[t[j]] || t[j + 2] < 1 || t[j + 1] < 0 || t[j + 1] >= t[j + 2]) {
                    throw new IllegalArgumentException("block " + l + ": bad expert share (" + t[j] + ", " + t[j + 1] + ", "
                            + t[j + 2] + ") of " + experts + " experts");
                }
                seen[t[j]] = true;
            }
        }
    }

    private void refuseShard() {
        if (shard != null) {
            throw new IllegalStateException("rank " + shard.rank() + " of a sharded group runs only through its ShardedCudaEngine");
        }
    }

    private int prepareShard(List<RankStep> own, List<Sampling> sampling, int[] tokensPerRank, int[] ids, int[] previous) {
        if (shard == null || tokensPerRank.length != shard.nccl().ranks()) {
            throw new IllegalStateException("not a rank of a group of " + tokensPerRank.length);
        }
        int ranks = tokensPerRank.length;
        long[] floats = new long[ranks];
        long[] offsets = new long[ranks];
        int all = 0;
        for (int r = 0; r < ranks; r++) {
            floats[r] = (long) tokensPerRank[r] * d;
            offsets[r] = (long) all * d;
            all += tokensPerRank[r];
        }
        if (all > options.maxTokens() || ids.length != all || previous.length != all) {
            throw new IllegalArgumentException(all + " tokens in one call (" + ids.length + " ids); this engine takes at most " + options.maxTokens());
        }
        rankTokens = tokensPerRank.clone();
        rankFloats = floats;
        rankFloatOffsets = offsets;
        allTokens = all;
        for (int t = 0; t < all; t++) {
            hostMeta.set(JAVA_INT, allIdsOff + 4L * t, ids[t]);
            hostMeta.set(JAVA_INT, allPrevOff + 4L * t, previous[t]);
        }
        int n = upload(own, sampling);
        if (n != tokensPerRank[shard.rank()]) {
            throw new IllegalArgumentException("rank " + shard.rank() + " has " + n + " tokens, the call says " + tokensPerRank[shard.rank()]);
        }
        return n;
    }

    /**
     * Runs the enqueued step: a pure decode step (one token per sequence) replays the graph captured for its
     * batch size (and whether it samples), anything else is launched kernel by kernel.
     */
    private void run(int n, int rows, boolean sample) {
        if (n != rows || !options.graphs()) {
            enqueue(n, rows, sample);
            return;
        }
        // A rank of a sharded group bakes every rank's token count into its exchanges: part of the shape.
        List<Integer> key = new java.util.ArrayList<>(List.of(n, sample ? 1 : 0));
        if (shard != null) {
            for (int t : rankTokens) {
                key.add(t);
            }
        }
        Long graph = graphs.get(key);
        if (graph == null) {
            dev.runtime().beginCapture(dev.stream());
            long captured;
            try {
                enqueue(n, rows, sample);
            } finally {
                captured = dev.runtime().endCaptureAndInstantiate(dev.stream());
            }
            graph = captured;
            graphs.put(List.copyOf(key), graph);
        }
        dev.runtime().graphLaunch(graph, dev.stream());
    }

    /** Checks the call, reserves KV blocks (all or none) and uploads its inputs; returns the token count. */
    private int prepare(List<Engine.Step> steps, List<Sampling> sampling) {
        checkCall(steps.size(), steps.stream().mapToInt(s -> s.tokens().length).sum());
        sequences.begin(steps);
        List<RankStep> raw = new java.util.ArrayList<>(steps.size());
        for (Engine.Step s : steps) {
            raw.add(RankStep.of(s));
        }
        return upload(raw, sampling);
    }

    private void checkCall(int sequences, int tokens) {
        if (closed) {
            throw new IllegalStateException("the CUDA engine is closed");
        }
        if (sequences > options.maxSequences()) {
            throw new IllegalArgumentException(sequences + " sequences in one call; this engine takes at most " + options.maxSequences());
        }
        if (tokens > options.maxTokens()) {
            throw new IllegalArgumentException(tokens + " tokens in one call; this engine takes at most " + options.maxTokens());
        }
    }

    /** Uploads the inputs of a call whose KV blocks are reserved; returns the token count. */
    private int upload(List<RankStep> steps, List<Sampling> sampling) {
        int n = 0;
        for (RankStep s : steps) {
            n += s.tokens().length;
            if (s.blocks().length > maxBlocks || s.start() < 0 || s.start() + s.tokens().length > config.contextLength()) {
                throw new IllegalArgumentException("a step of " + s.tokens().length + " tokens from position " + s.start()
                        + " with " + s.blocks().length + " KV blocks does not fit the context of " + config.contextLength());
            }
        }
        checkCall(steps.size(), n);
        dev.runtime().setDevice(dev.ordinal());
        MemorySegment h = hostMeta;
        int t = 0;
        for (int i = 0; i < steps.size(); i++) {
            RankStep s = steps.get(i);
            int[] blocks = s.blocks();
            for (int b = 0; b < maxBlocks; b++) {
                h.set(JAVA_INT, tableOff + 4L * (i * maxBlocks + b), b < blocks.length ? blocks[b] : 0);
            }
            for (int j = 0; j < s.tokens().length; j++, t++) {
                int position = s.start() + j;
                h.set(JAVA_INT, idsOff + 4L * t, s.tokens()[j]);
                h.set(JAVA_INT, prevOff + 4L * t, j == 0 ? s.previous() : s.tokens()[j - 1]);
                h.set(JAVA_INT, posOff + 4L * t, position);
                h.set(JAVA_INT, tokSeqOff + 4L * t, i);
            }
            h.set(JAVA_INT, lastRowOff + 4L * i, t - 1);
            Sampling p = sampling == null ? Sampling.GREEDY : sampling.get(i);
            h.set(JAVA_FLOAT, temperatureOff + 4L * i, p.temperature());
            h.set(JAVA_FLOAT, topPOff + 4L * i, p.topP());
            // A fresh draw per (seed, position): reproducible for a seed, different at every step.
            h.set(JAVA_LONG, seedsOff + 8L * i, p.seed() * 0x9E3779B97F4A7C15L + s.start() + s.tokens().length);
        }
        dev.runtime().memcpyAsync(meta, hostMeta.address(), metaBytes, Cudart.H2D, dev.stream());
        return n;
    }

    /**
     * Brings the expert counters back with the step's results (one more small copy on the stream, no extra
     * synchronisation), waits for the step, and records its tokens.
     */
    private void finishStep(List<Engine.Step> commit) {
        if (experts > 1) {
            dev.runtime().memcpyAsync(hostCounters.address(), routedTotal, 16L * layers * experts, Cudart.D2H, dev.stream());
        }
        dev.synchronize();
        if (experts > 1) {
            long half = 8L * layers * experts;
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    long at = 8L * (l * experts + e);
                    stats.setTotals(l, e, hostCounters.get(JAVA_LONG, at), hostCounters.get(JAVA_LONG, half + at));
                }
            }
        }
        if (commit != null) { // a sharded group records the step once, after every rank has run it
            sequences.commit(commit);
        }
    }

    /** Per-expert routed and dropped totals as of the last finished step, without touching the device. */
    @Override
    public ExpertStats expertStats() {
        return stats;
    }

    private static int tile(int slotsPerGroup) {
        return slotsPerGroup <= 1 ? 1 : slotsPerGroup <= 2 ? 2 : slotsPerGroup <= 4 ? 4 : 8;
    }

    /**
     * A dense matmul y (op)= input·Wᵀ over n rows: on cuBLAS (input rounded to BF16, tensor cores, F32
     * accumulation) from {@code gemmMinTokens} rows on, else the engine's own kernel with F32 inputs.
     */
    private void dense(int n, long input, long w, int rows, int cols, long y, int mode) {
        if (onCublas(n, cols)) {
            if (bf16Holds != input) {
                dev.toBf16(input, (long) n * cols, inputBf16);
                bf16Holds = input;
            }
            cublas.linear(inputBf16, n, w, rows, cols, y, mode == CudaDevice.ACCUMULATE);
            if (mode == CudaDevice.GELU_STORE && onCublas(n, rows)) {
                // The next matmul reads y on cuBLAS too: one kernel applies GELU and writes its BF16 input.
                dev.geluBf16(y, (long) n * rows, inputBf16, true);
                bf16Holds = y;
            } else if (mode == CudaDevice.GELU_STORE) {
                dev.gelu(y, (long) n * rows);
            }
        } else {
            dev.linear(true, tile(n), input, w, rows, cols, y, 1, 0, n, 0, 1, 0, 1, 0, mode);
        }
    }

    private boolean onCublas(int n, int cols) {
        return cublas != null && n >= options.gemmMinTokens() && cols % 8 == 0;
    }

    /**
     * out = RMSNorm(x rows); when the next matmul over out runs on cuBLAS (n tokens, d columns), the kernel also
     * writes out rounded to BF16 into the cuBLAS input buffer, and that matmul skips its own conversion.
     */
    private void norm(long xRows, int n, long gain, float eps, long out) {
        boolean bf16 = onCublas(n, d);
        dev.rmsnorm(x, xRows, n, gain, d, eps, out, bf16 ? inputBf16 : 0);
        bf16Holds = bf16 ? out : 0;
    }

    /**
     * Launches one step over n tokens of {@code rows} sequences on the stream (captured or not). A sharded rank runs its
     * own tokens (possibly none) through attention and the dense blocks, and meets the other ranks in each sparse block.
     */
    private void enqueue(int n, int rows, boolean sample) {
        bf16Holds = 0;
        float eps = (float) config.normEps();
        float scale = (float) (1 / Math.sqrt(config.headSize()));
        int all = shard == null ? n : allTokens;
        int expertTile = tile((all * k + experts - 1) / experts);
        int capacity = capacity(all);
        if (n > 0) {
            dev.embed(embedding, ids, n, d, x);
        }
        for (int p = 0; p < passes; p++) {
            for (int l = 0; l < layers; l++) {
                Layer w = layerWeights[l];
                int s = p * layers + l;
                if (n > 0) {
                    norm(0, n, w.attnNorm(), eps, normed);
                    dense(n, normed, w.wqkv(), 3 * d, d, qkv, CudaDevice.STORE);
                    dev.rotaryKv(qkv, n, pos, tokSeq, table, maxBlocks, s, slots, blockSize, d, heads, cos, sin, keys, values, kvBf16);
                    // The output projection on cuBLAS reads the attention's output as BF16, written beside it.
                    boolean attBf16 = onCublas(n, d);
                    dev.attention(qkv, n, pos, tokSeq, table, maxBlocks, s, slots, blockSize, d, heads,
                            config.contextLength(), scale, keys, values, att, attBf16 ? inputBf16 : 0, kvBf16);
                    bf16Holds = attBf16 ? att : 0;
                    dense(n, att, w.wo(), d, d, x, CudaDevice.ACCUMULATE);
                    norm(0, n, w.ffnNorm(), eps, normed);
                }
                if (!w.sparse()) {
                    if (n > 0) {
                        dense(n, normed, w.w1(), dFf, d, hidden, CudaDevice.GELU_STORE);
                        dense(n, hidden, w.w2(), d, dFf, x, CudaDevice.ACCUMULATE);
                    }
                } else if (shard == null) {
                    sparseBlock(w, l, n, normed, ids, prev, expertTile, capacity, x);
                } else {
                    // Every rank's normalised tokens, in rank order; routing over all of them is the same on every rank.
                    shard.nccl().allGather(shard.rank(), normed, gathered, rankFloatOffsets, rankFloats, Nccl.DataType.FLOAT32,
                            dev.stream());
                    // This rank's residual rows in its own segment, zeros elsewhere: the sum over the ranks of each
                    // segment is then its rows' residual plus every expert's output, reduced straight into x.
                    dev.runtime().memsetAsync(moe, 0, 4L * all * d, dev.stream());
                    if (n > 0) {
                        dev.copy(x, moe + 4L * rankFloatOffsets[shard.rank()], (long) n * d);
                    }
                    sparseBlock(w, l, all, gathered, allIds, allPrev, expertTile, capacity, moe);
                    shard.nccl().reduceScatterSum(shard.rank(), moe, x, rankFloatOffsets, rankFloats, Nccl.DataType.FLOAT32,
                            dev.stream());
                }
            }
        }
        if (rows > 0) {
            norm(lastRow, rows, finalNorm, eps, lastNormed);
            dense(rows, lastNormed, head, vocab, d, logits, CudaDevice.STORE);
            if (sample) {
                dev.sample(logits, rows, vocab, temperature, topP, seeds, sampled);
            }
        }
    }

    /**
     * A sparse block's experts over n normalised tokens {@code in} (ids and predecessors for hash routing): routes them
     * (counting into the block's counters) and adds this engine's experts' gated outputs into {@code target}.
     */
    private void sparseBlock(Layer w, int l, int n, long in, long tokenIds, long tokenPrev, int expertTile, int capacity, long target) {
        if (learned) {
            // One token per tile: the router has few rows, so its blocks are spread over the tokens.
            dev.linear(false, 1, in, w.router(), experts, d, routerLogits, 1, 0, n, 0, 1, 0, 1, 0, CudaDevice.STORE);
        }
        long counters = 8L * l * experts;
        dev.route(learned ? routerLogits : 0, n, experts, k, capacity, learned ? 0 : hashTable, bigram, tokenIds, tokenPrev,
                expert, gate, slot, groupStart, grouped, routedTotal + counters, droppedTotal + counters);
        long starts = groupStart;
        long slots = grouped;
        if (shard != null) {
            // This rank's experts and shares: their slots back to back, as the grouped kernel reads route's own table.
            dev.share(groupStart, grouped, w.local(), w.held(), shareStart, shareGrouped);
            starts = shareStart;
            slots = shareGrouped;
        }
        int entries = Math.min(w.held(), n * k);
        if (batchedExperts(n, entries, capacity)) {
            // Each non-empty group's tokens padded to the capacity, both matmuls batched over the groups on tensor cores.
            long p = expertPointers;
            long stride = 8L * expertStride;
            dev.expertGather(starts, slots, w.held(), k, capacity, entries, in, d, dFf, w.w1(), w.w2(), expertIn, hidden,
                    expertHiddenBf16, expertOut, p, expertStride);
            cublas.linearBatched(p + stride, capacity, p, dFf, d, p + 2 * stride, entries);
            dev.geluBf16(hidden, (long) entries * capacity * dFf, expertHiddenBf16, false);
            cublas.linearBatched(p + 4 * stride, capacity, p + 3 * stride, d, dFf, p + 5 * stride, entries);
            dev.expertScatter(starts, slots, w.held(), k, capacity, entries, expertOut, d, learned ? gate : 0, target);
            return;
        }
        dev.linear(true, expertTile, in, w.w1(), dFf, d, hidden, w.held(), starts, n * k, slots, k, 0, 1, 0, CudaDevice.GELU_STORE);
        dev.linear(true, expertTile, hidden, w.w2(), d, dFf, target, w.held(), starts, n * k, 0, 1, slots, k,
                learned ? gate : 0, CudaDevice.ACCUMULATE);
    }

    /** Assignments an expert keeps of a call of {@code tokens} tokens: the learned router's capacity, else no bound. */
    private int capacity(int tokens) {
        return learned ? RoutePlan.capacity(tokens, k, experts, capacityFactor) : Integer.MAX_VALUE;
    }

    /** Whether a sparse block over n tokens runs its experts as batched cuBLAS matmuls (else the grouped kernel). */
    private boolean batchedExperts(int n, int entries, int capacity) {
        return expertPointers != 0 && n >= options.gemmMinTokens() && (long) entries * capacity <= expertRows;
    }

    /** Whether a call of n tokens on this (unsharded) engine runs its experts as batched cuBLAS matmuls. */
    boolean batchedExperts(int n) {
        return shard == null && n > 0 && batchedExperts(n, Math.min(experts, n * k), capacity(n));
    }

    /** Tokens routed to ([layer][expert]) since load, read from the device. */
    public long[][] routedTokens() {
        return counters(routedTotal);
    }

    /** Assignments dropped for capacity ([layer][expert]) since load. */
    public long[][] droppedTokens() {
        return counters(droppedTotal);
    }

    private long[][] counters(long src) {
        long[] flat = new long[layers * experts];
        dev.download(src, flat, flat.length);
        long[][] out = new long[layers][];
        for (int l = 0; l < layers; l++) {
            out[l] = config.architecture().isSparseLayer(l) ? Arrays.copyOfRange(flat, l * experts, (l + 1) * experts) : new long[0];
        }
        return out;
    }

    /** Weight bytes one decoded token reads: attention, router, its experts' (k of them), embedding row, head. */
    public long activeWeightBytesPerToken() {
        long bytes = 2L * d + 2L * vocab * d;
        for (int l = 0; l < layers; l++) {
            boolean sparse = layerWeights[l].sparse();
            bytes += passes * (2L * 4 * d * d + 2L * 2 * d * dFf * (sparse ? k : 1));
            if (layerWeights[l].router() != 0) {
                bytes += passes * 4L * experts * d;
            }
        }
        return bytes;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Cudart rt = dev.runtime();
        dev.use(); // the closing thread may have another device current (a server closes models off the scheduler)
        rt.streamSynchronize(dev.stream());
        for (long g : graphs.values()) {
            rt.graphExecDestroy(g);
        }
        if (cublas != null) {
            cublas.close();
        }
        rt.freeHost(hostMeta);
        rt.freeHost(hostLogits);
        rt.freeHost(hostSampled);
        rt.freeHost(hostCounters);
        if (ownsDevice) {
            dev.close();
        }
    }
}
