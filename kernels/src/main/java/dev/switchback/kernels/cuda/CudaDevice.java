package dev.switchback.kernels.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One CUDA device opened for the engine: the runtime, our kernel library (built by {@link NvccBuild} for its
 * architecture), a stream, and every device allocation made through it (freed on {@link #close}). Kernel
 * launchers return their launch status, checked here and named in the exception. Not thread-safe: one engine
 * thread drives a device.
 */
public final class CudaDevice implements AutoCloseable {
    private static final int ABI_VERSION = 7;
    /** Modes of {@link #linear}. */
    public static final int STORE = 0;
    public static final int ACCUMULATE = 1;
    public static final int GELU_STORE = 2;

    private final Cudart rt;
    private final int ordinal;
    private final int computeCapability;
    private final long stream;
    private final List<Long> allocations = new ArrayList<>();
    private final MethodHandle linear, rmsnorm, embed, rotaryKv, attention, route, share, sample, copy, setPdl, toBf16, gelu,
            expertGather, geluBf16, expertScatter;
    private boolean pdl;
    private long allocated;
    private boolean closed;

    private CudaDevice(Cudart rt, int ordinal, Path library) {
        this.rt = rt;
        this.ordinal = ordinal;
        this.computeCapability = rt.computeCapability(ordinal);
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        Linker linker = Linker.nativeLinker();
        try {
            int abi = (int) linker.downcallHandle(lib.findOrThrow("sb_abi_version"), FunctionDescriptor.of(JAVA_INT)).invokeExact();
            if (abi != ABI_VERSION) {
                throw new CudaException(library + " has kernel ABI " + abi + ", this build needs " + ABI_VERSION);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cannot call sb_abi_version in " + library, t);
        }
        ValueLayout L = JAVA_LONG;
        ValueLayout I = JAVA_INT;
        ValueLayout F = JAVA_FLOAT;
        linear = bind(linker, lib, "sb_linear", L, I, I, L, L, I, I, L, I, L, I, L, I, L, I, L, I);
        rmsnorm = bind(linker, lib, "sb_rmsnorm", L, L, L, I, L, I, F, L, L);
        embed = bind(linker, lib, "sb_embed", L, L, L, I, I, L);
        rotaryKv = bind(linker, lib, "sb_rotary_kv", L, L, I, L, L, L, I, I, I, I, I, I, L, L, L, L, I);
        attention = bind(linker, lib, "sb_attention", L, L, I, L, L, L, I, I, I, I, I, I, I, F, L, L, L, L, I);
        route = bind(linker, lib, "sb_route", L, L, I, I, I, I, L, I, L, L, L, L, L, L, L, L, L);
        share = bind(linker, lib, "sb_share", L, L, L, L, I, L, L);
        sample = bind(linker, lib, "sb_sample", L, L, I, I, L, L, L, L);
        copy = bind(linker, lib, "sb_copy", L, L, L, L);
        setPdl = bind(linker, lib, "sb_set_pdl", I);
        toBf16 = bind(linker, lib, "sb_to_bf16", L, L, L, L);
        gelu = bind(linker, lib, "sb_gelu", L, L, L);
        expertGather = bind(linker, lib, "sb_expert_gather", L, L, L, I, I, I, I, L, I, I, L, L, L, L, L, L, L, I);
        geluBf16 = bind(linker, lib, "sb_gelu_bf16", L, L, L, L, I);
        expertScatter = bind(linker, lib, "sb_expert_scatter", L, L, L, I, I, I, I, L, I, L, L);
        this.stream = rt.streamCreate();
        programmaticLaunch(computeCapability >= 90);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, MemoryLayout... args) {
        return linker.downcallHandle(lib.findOrThrow(name), FunctionDescriptor.of(JAVA_INT, args));
    }

    /**
     * Opens device {@code ordinal}: checks there is one, builds (or finds cached) kernels for its architecture.
     *
     * @throws CudaException with one line saying what is missing (runtime, device, nvcc) or what failed
     */
    public static CudaDevice open(int ordinal) {
        Cudart rt = Cudart.get();
        int count = rt.deviceCount();
        if (count == 0) {
            throw new CudaException("no CUDA device found");
        }
        if (ordinal < 0 || ordinal >= count) {
            throw new CudaException("CUDA device " + ordinal + " does not exist: this host has " + count + " (0.." + (count - 1) + ")");
        }
        rt.setDevice(ordinal);
        Path lib = NvccBuild.library(rt.computeCapability(ordinal));
        return new CudaDevice(rt, ordinal, lib);
    }

    public Cudart runtime() {
        return rt;
    }

    public long stream() {
        return stream;
    }

    /** {@code cuda:N (sm_XY, S SMs)}. */
    public String describe() {
        return "cuda:" + ordinal + " (sm_" + computeCapability + ", " + rt.multiprocessors(ordinal) + " SMs)";
    }

    public String name() {
        return "cuda:" + ordinal;
    }

    public int ordinal() {
        return ordinal;
    }

    /**
     * Programmatic dependent launch (compute capability 9.0+): each kernel may start launching while the one before
     * it finishes, hiding launch latency between the many short kernels of a decode step. On by default where
     * supported; graphs captured afterwards keep the setting they were captured with.
     */
    public void programmaticLaunch(boolean on) {
        boolean enable = on && computeCapability >= 90;
        try {
            launched("sb_set_pdl", (int) setPdl.invokeExact(enable ? 1 : 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
        pdl = enable;
    }

    public boolean programmaticLaunch() {
        return pdl;
    }

    /** Device bytes allocated through this object. */
    public long allocatedBytes() {
        return allocated;
    }

    /**
     * Makes this device the calling thread's current one. CUDA allocates on the current device, so a thread that
     * drives several devices (one rank per GPU, as NCCL's in-process communicators do) must switch before each use.
     */
    public void use() {
        rt.setDevice(ordinal);
    }

    /** Device memory, freed with the device. */
    public long malloc(long bytes) {
        use();
        long p = rt.malloc(Math.max(bytes, 16));
        allocations.add(p);
        allocated += bytes;
        return p;
    }

    /** Device memory holding {@code n} zero bytes. */
    public long zeros(long bytes) {
        long p = malloc(bytes);
        rt.memsetAsync(p, 0, bytes, stream);
        return p;
    }

    /** Uploads host memory (a native segment) synchronously. */
    public void upload(long dst, MemorySegment src, long bytes) {
        use();
        rt.memcpyAsync(dst, src.address(), bytes, Cudart.H2D, stream);
        rt.streamSynchronize(stream);
    }

    public long upload(float[] values) {
        return upload(JAVA_FLOAT, values, values.length);
    }

    public long upload(int[] values) {
        return upload(JAVA_INT, values, values.length);
    }

    /** New device memory holding the {@code length} elements of {@code layout} of the Java array {@code values}. */
    private long upload(ValueLayout layout, Object values, int length) {
        long bytes = layout.byteSize() * length;
        long p = malloc(bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(layout, length);
            MemorySegment.copy(values, 0, s, layout, 0, length);
            upload(p, s, bytes);
        }
        return p;
    }

    /** Copies {@code count} floats from the device into {@code out}. */
    public void download(long src, float[] out, int count) {
        download(src, JAVA_FLOAT, out, count);
    }

    public void download(long src, long[] out, int count) {
        download(src, JAVA_LONG, out, count);
    }

    public void download(long src, int[] out, int count) {
        download(src, JAVA_INT, out, count);
    }

    /** Copies {@code count} elements of {@code layout} from the device into the Java array {@code out}, waiting for them. */
    private void download(long src, ValueLayout layout, Object out, int count) {
        use();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(layout, Math.max(1, count));
            rt.memcpyAsync(s.address(), src, layout.byteSize() * count, Cudart.D2H, stream);
            rt.streamSynchronize(stream);
            MemorySegment.copy(s, layout, 0, out, 0, count);
        }
    }

    public void synchronize() {
        use();
        rt.streamSynchronize(stream);
    }

    private void launched(String kernel, Object rc) {
        rt.checkLaunch(kernel, (Integer) rc);
    }

    /**
     * Grouped linear y (op)= gate·x·Wᵀ (see switchback.cu's linear_kernel): {@code groups} weight matrices of
     * [rows, cols] back to back at {@code w}; {@code groupStart} (0: one group of {@code n}) gives each group's
     * slots, {@code n} then being the slot count; {@code inRows}/{@code outRows} (0: identity) map slots to rows,
     * divided by {@code inDiv}/{@code outDiv}.
     */
    public void linear(boolean bf16, int tile, long x, long w, int rows, int cols, long y, int groups, long groupStart,
            int n, long inRows, int inDiv, long outRows, int outDiv, long gates, int mode) {
        try {
            launched("sb_linear", (int) linear.invokeExact(stream, bf16 ? 1 : 0, tile, x, w, rows, cols, y, groups,
                    groupStart, n, inRows, inDiv, outRows, outDiv, gates, mode));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void rmsnorm(long x, long rows, int count, long gain, int d, float eps, long out) {
        rmsnorm(x, rows, count, gain, d, eps, out, 0);
    }

    /** As {@link #rmsnorm(long, long, int, long, int, float, long)}, also writing the rows rounded to BF16 to {@code outBf16} (0: not). */
    public void rmsnorm(long x, long rows, int count, long gain, int d, float eps, long out, long outBf16) {
        try {
            launched("sb_rmsnorm", (int) rmsnorm.invokeExact(stream, x, rows, count, gain, d, eps, out, outBf16));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void embed(long emb, long ids, int n, int d, long x) {
        try {
            launched("sb_embed", (int) embed.invokeExact(stream, emb, ids, n, d, x));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code kvBf16}: the cache {@code kc}/{@code vc} holds BF16 (rounded to nearest even), else F32. */
    public void rotaryKv(long qkv, int n, long pos, long tokSeq, long table, int maxBlocks, int slot, int slots,
            int blockSize, int d, int heads, long cos, long sin, long kc, long vc, boolean kvBf16) {
        try {
            launched("sb_rotary_kv", (int) rotaryKv.invokeExact(stream, qkv, n, pos, tokSeq, table, maxBlocks, slot, slots,
                    blockSize, d, heads, cos, sin, kc, vc, kvBf16 ? 1 : 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code outBf16}: 0, or where to write the output rounded to BF16 as well (the input of a tensor-core matmul);
     * {@code kvBf16}: the cache holds BF16, else F32.
     */
    public void attention(long qkv, int n, long pos, long tokSeq, long table, int maxBlocks, int slot, int slots,
            int blockSize, int d, int heads, int maxPositions, float scale, long kc, long vc, long out, long outBf16,
            boolean kvBf16) {
        try {
            launched("sb_attention", (int) attention.invokeExact(stream, qkv, n, pos, tokSeq, table, maxBlocks, slot,
                    slots, blockSize, d, heads, maxPositions, scale, kc, vc, out, outBf16, kvBf16 ? 1 : 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void route(long logits, int n, int experts, int k, int capacity, long table, boolean bigram, long ids,
            long prev, long expert, long gate, long slot, long groupStart, long grouped, long routed, long dropped) {
        try {
            launched("sb_route", (int) route.invokeExact(stream, logits, n, experts, k, capacity, table, bigram ? 1 : 0,
                    ids, prev, expert, gate, slot, groupStart, grouped, routed, dropped));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * A rank's share of {@link #route}'s grouping (see switchback.cu's share_kernel): {@code local} holds
     * {@code groups} triples (expert, share, copies); each group's slots go back to back into {@code outGrouped} and
     * their starts into {@code outStart}, for {@link #linear} to run as on route's own table.
     */
    public void share(long groupStart, long grouped, long local, int groups, long outStart, long outGrouped) {
        try {
            launched("sb_share", (int) share.invokeExact(stream, groupStart, grouped, local, groups, outStart, outGrouped));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void sample(long logits, int rows, int vocab, long temperature, long topP, long seed, long out) {
        try {
            launched("sb_sample", (int) sample.invokeExact(stream, logits, rows, vocab, temperature, topP, seed, out));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** out[0..n) = x rounded to BF16 (the tensor-core matmuls' input). */
    public void toBf16(long x, long n, long out) {
        try {
            launched("sb_to_bf16", (int) toBf16.invokeExact(stream, x, n, out));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** In-place GELU (tanh form) over n floats. */
    public void gelu(long y, long n) {
        try {
            launched("sb_gelu", (int) gelu.invokeExact(stream, y, n));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The first step of a sparse block's experts as batched cuBLAS matmuls (switchback.cu's expert_gather_kernel):
     * entry e of {@code entries} is the e-th non-empty group of the grouping ({@code groupStart}, {@code grouped},
     * {@code groups} groups, slot / k = token); its kept tokens' rows of {@code x} go to {@code xe[e]} as BF16 (at
     * most {@code capacity} rows, zero-padded), and {@code ptrs} receives the six pointer arrays, {@code stride}
     * apart: W1, xe, he; W2, heb, oe ({@code w1}/{@code w2}: the groups' weights back to back).
     */
    public void expertGather(long groupStart, long grouped, int groups, int k, int capacity, int entries, long x, int d,
                             int dFf, long w1, long w2, long xe, long he, long heb, long oe, long ptrs, int stride) {
        try {
            launched("sb_expert_gather", (int) expertGather.invokeExact(stream, groupStart, grouped, groups, k, capacity,
                    entries, x, d, dFf, w1, w2, xe, he, heb, oe, ptrs, stride));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** out[0..n) = GELU(h) rounded to BF16; with {@code writeBack} h itself becomes GELU(h) too. */
    public void geluBf16(long h, long n, long out, boolean writeBack) {
        try {
            launched("sb_gelu_bf16", (int) geluBf16.invokeExact(stream, h, n, out, writeBack ? 1 : 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The last step of {@link #expertGather}'s batch: each kept token's row of {@code oe} times its gate ({@code gates}
     * indexed by slot; 0: gate 1) added into its row of {@code target}.
     */
    public void expertScatter(long groupStart, long grouped, int groups, int k, int capacity, int entries, long oe, int d,
                              long gates, long target) {
        try {
            launched("sb_expert_scatter", (int) expertScatter.invokeExact(stream, groupStart, grouped, groups, k, capacity,
                    entries, oe, d, gates, target));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A float copy by a kernel (for measuring device bandwidth). */
    public void copy(long src, long dst, long floats) {
        try {
            launched("sb_copy", (int) copy.invokeExact(stream, src, dst, floats));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        return CudaException.rethrow(t, "kernel launch failed");
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        use();
        rt.streamSynchronize(stream);
        for (long p : allocations) {
            rt.free(p);
        }
        allocations.clear();
        rt.streamDestroy(stream);
    }
}
