package dev.switchback.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * NCCL through java.lang.foreign: either one communicator per GPU of this process (bootstrapped in-process with
 * {@code ncclCommInitAll}, rank i on {@code devices[i]}: {@link #open}), or this process's one rank of a group that
 * spans processes or hosts ({@code ncclCommInitRank} with a unique id that rank 0 made and handed to the others, e.g.
 * over gRPC: {@link #uniqueId}, {@link #join}). The collectives below are called per rank; the all-to-all for every
 * rank at once needs them all in this process. Every status is checked and named.
 */
public final class Nccl implements AutoCloseable {
    /** NCCL's element types used here, with their {@code ncclDataType_t} codes. */
    public enum DataType {
        INT32(2, 4),
        FLOAT32(7, 4),
        BFLOAT16(9, 2);

        final int code;
        final int bytes;

        DataType(int code, int bytes) {
            this.code = code;
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    /** Bytes of {@code ncclUniqueId}. */
    public static final int UNIQUE_ID_BYTES = 128;
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));

    private final MethodHandle send, recv, broadcast, reduce, allGather, reduceScatter, groupStart, groupEnd, commDestroy, commAbort,
            errorString;
    /** Per rank of the group, its CUDA device; −1 for a rank of another process. */
    private final int[] devices;
    /** Per rank, its communicator; 0 for a rank of another process. */
    private final long[] comms;
    private final int version;
    private volatile boolean closed;

    /** Communicators for every one of {@code devices} in this process. */
    private Nccl(SymbolLookup lib, int[] devices) {
        this(lib, devices.clone(), new long[devices.length]);
        MethodHandle initAll = Linker.nativeLinker().downcallHandle(lib.findOrThrow("ncclCommInitAll"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS, devices.length);
            MemorySegment list = a.allocateFrom(JAVA_INT, devices);
            check("ncclCommInitAll(" + devices.length + " devices)", (int) initAll.invokeExact(out, devices.length, list));
            for (int i = 0; i < devices.length; i++) {
                comms[i] = out.getAtIndex(ADDRESS, i).address();
            }
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "NCCL set-up failed");
        }
    }

    /** Rank {@code rank} of {@code world} on {@code device} (current on the calling thread), joined with {@code id}. */
    private Nccl(SymbolLookup lib, byte[] id, int world, int rank, int device) {
        this(lib, absent(world, rank, device), new long[world]);
        MethodHandle initRank = Linker.nativeLinker().downcallHandle(lib.findOrThrow("ncclCommInitRank"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            MemorySegment idValue = a.allocate(UNIQUE_ID);
            MemorySegment.copy(id, 0, idValue, JAVA_BYTE, 0, UNIQUE_ID_BYTES);
            check("ncclCommInitRank(rank " + rank + " of " + world + ")", (int) initRank.invokeExact(out, world, idValue, rank));
            comms[rank] = out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "NCCL set-up failed");
        }
    }

    private static int[] absent(int world, int rank, int device) {
        int[] devices = new int[world];
        java.util.Arrays.fill(devices, -1);
        devices[rank] = device;
        return devices;
    }

    private Nccl(SymbolLookup lib, int[] devices, long[] comms) {
        Linker linker = Linker.nativeLinker();
        errorString = linker.downcallHandle(lib.findOrThrow("ncclGetErrorString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        MethodHandle getVersion = linker.downcallHandle(lib.findOrThrow("ncclGetVersion"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // ncclSend(const void*, size_t count, ncclDataType_t, int peer, ncclComm_t, cudaStream_t); ncclRecv alike.
        send = linker.downcallHandle(lib.findOrThrow("ncclSend"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        recv = linker.downcallHandle(lib.findOrThrow("ncclRecv"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        // ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t, int root, ncclComm_t, cudaStream_t).
        broadcast = linker.downcallHandle(lib.findOrThrow("ncclBroadcast"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        // ncclReduce(const void* send, void* recv, size_t count, ncclDataType_t, ncclRedOp_t, int root, ncclComm_t, cudaStream_t).
        reduce = linker.downcallHandle(lib.findOrThrow("ncclReduce"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        // ncclAllGather(const void* send, void* recv, size_t sendcount, ncclDataType_t, ncclComm_t, cudaStream_t).
        allGather = linker.downcallHandle(lib.findOrThrow("ncclAllGather"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
        // ncclReduceScatter(const void* send, void* recv, size_t recvcount, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t).
        reduceScatter = linker.downcallHandle(lib.findOrThrow("ncclReduceScatter"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
        groupStart = linker.downcallHandle(lib.findOrThrow("ncclGroupStart"), FunctionDescriptor.of(JAVA_INT));
        groupEnd = linker.downcallHandle(lib.findOrThrow("ncclGroupEnd"), FunctionDescriptor.of(JAVA_INT));
        commDestroy = linker.downcallHandle(lib.findOrThrow("ncclCommDestroy"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        commAbort = linker.downcallHandle(lib.findOrThrow("ncclCommAbort"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        this.devices = devices;
        this.comms = comms;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("ncclGetVersion", (int) getVersion.invokeExact(v));
            version = v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "NCCL set-up failed");
        }
    }

    /**
     * Communicators over {@code devices} (CUDA ordinals, each once), or a {@link CudaException} saying why not: NCCL
     * not installed, a device listed twice, set-up failed.
     */
    public static Nccl open(int... devices) {
        if (devices.length == 0) {
            throw new IllegalArgumentException("NCCL needs at least one device");
        }
        for (int i = 0; i < devices.length; i++) {
            for (int j = 0; j < i; j++) {
                if (devices[i] == devices[j]) {
                    throw new IllegalArgumentException("device " + devices[i] + " is listed twice; NCCL takes one rank per GPU");
                }
            }
        }
        return new Nccl(library(), devices);
    }

    /**
     * A new group's unique id (NCCL's bootstrap address of this process, made by rank 0): every rank passes the same
     * id to {@link #join}.
     */
    public static byte[] uniqueId() {
        MethodHandle get = Linker.nativeLinker().downcallHandle(library().findOrThrow("ncclGetUniqueId"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            int status = (int) get.invokeExact(id);
            if (status != 0) {
                throw new CudaException("ncclGetUniqueId failed (" + status + ")");
            }
            return id.toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "ncclGetUniqueId failed");
        }
    }

    /**
     * This process's rank {@code rank} of a group of {@code world} ranks, on CUDA device {@code device}: returns once
     * every rank has joined with the same {@code id} (from rank 0's {@link #uniqueId}). The other ranks' collectives run
     * in their own processes.
     */
    public static Nccl join(byte[] id, int world, int rank, int device) {
        if (id == null || id.length != UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + UNIQUE_ID_BYTES + " bytes, got "
                    + (id == null ? "none" : id.length));
        }
        if (world < 1 || rank < 0 || rank >= world) {
            throw new IllegalArgumentException("rank " + rank + " of a group of " + world);
        }
        SymbolLookup lib = library();
        Cudart.get().setDevice(device);
        return new Nccl(lib, id.clone(), world, rank, device);
    }

    private static SymbolLookup library() {
        SymbolLookup lib = findLibrary();
        if (lib == null) {
            throw new CudaException("NCCL not found (libnccl.so.2 under /usr/lib/x86_64-linux-gnu, $CUDA_HOME/lib64 or the library path)");
        }
        return lib;
    }

    /** NCCL's library where it is installed, or null. */
    public static SymbolLookup findLibrary() {
        List<Path> paths = new ArrayList<>();
        for (String home : new String[] {System.getenv("CUDA_HOME"), "/usr/local/cuda"}) {
            if (home != null && !home.isBlank()) {
                paths.add(Path.of(home, "lib64", "libnccl.so.2"));
            }
        }
        paths.add(Path.of("/usr/lib/x86_64-linux-gnu/libnccl.so.2"));
        paths.add(Path.of("/usr/lib/x86_64-linux-gnu/libnccl.so"));
        for (Path p : paths) {
            if (Files.isRegularFile(p)) {
                return SymbolLookup.libraryLookup(p, Arena.global());
            }
        }
        for (String name : new String[] {"libnccl.so.2", "libnccl.so"}) {
            try {
                return SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException notFound) {
                // try the next name
            }
        }
        return null;
    }

    public int ranks() {
        return devices.length;
    }

    /** The CUDA device of rank {@code rank}; −1 for a rank of another process. */
    public int device(int rank) {
        return devices[rank];
    }

    /** Whether rank {@code rank} is driven by this process. */
    public boolean local(int rank) {
        return comms[rank] != 0;
    }

    /** NCCL's version code, e.g. 22703 for 2.27.3. */
    public int version() {
        return version;
    }

    /**
     * All-to-all with per-peer counts, one call for every rank of this process: rank r sends {@code counts[r][p]}
     * elements starting at element {@code sendOffsets[r][p]} of its buffer {@code send[r]} to rank p, which receives
     * them at element {@code recvOffsets[p][r]} of {@code recv[p]}; each rank's work runs on {@code streams[r]}.
     * Zero counts send nothing. Enqueued only: synchronise the streams to wait for it.
     */
    public void allToAll(long[] sendBuffers, long[][] sendOffsets, long[][] counts, long[] recvBuffers, long[][] recvOffsets,
            DataType type, long[] streams) {
        if (closed) {
            throw new IllegalStateException("NCCL communicators are closed");
        }
        int n = devices.length;
        for (int r = 0; r < n; r++) {
            if (!local(r)) {
                throw new IllegalStateException("this all-to-all drives every rank, but rank " + r + " is in another process");
            }
        }
        if (sendBuffers.length != n || sendOffsets.length != n || counts.length != n || recvBuffers.length != n
                || recvOffsets.length != n || streams.length != n) {
            throw new IllegalArgumentException("all-to-all needs one buffer, offset row, count row and stream per rank (" + n + ")");
        }
        for (int r = 0; r < n; r++) {
            if (sendOffsets[r].length != n || counts[r].length != n || recvOffsets[r].length != n) {
                throw new IllegalArgumentException("rank " + r + ": offsets and counts need one entry per rank (" + n + ")");
            }
            for (int p = 0; p < n; p++) {
                if (counts[r][p] < 0) {
                    throw new IllegalArgumentException("rank " + r + " sends " + counts[r][p] + " elements to rank " + p);
                }
            }
        }
        try {
            check("ncclGroupStart", (int) groupStart.invokeExact());
            try {
                for (int r = 0; r < n; r++) {
                    for (int p = 0; p < n; p++) {
                        long c = counts[r][p];
                        if (c > 0) {
                            check("ncclSend(rank " + r + " → " + p + ", " + c + " elements)", (int) send.invokeExact(
                                    sendBuffers[r] + sendOffsets[r][p] * type.bytes, c, type.code, p, comms[r], streams[r]));
                        }
                        long in = counts[p][r];
                        if (in > 0) {
                            check("ncclRecv(rank " + r + " ← " + p + ", " + in + " elements)", (int) recv.invokeExact(
                                    recvBuffers[r] + recvOffsets[r][p] * type.bytes, in, type.code, p, comms[r], streams[r]));
                        }
                    }
                }
            } finally {
                check("ncclGroupEnd", (int) groupEnd.invokeExact());
            }
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "NCCL all-to-all failed");
        }
    }

    /**
     * Rank {@code rank}'s part of an all-gather with a count per rank: every rank ends with rank q's
     * {@code counts[q]} elements at element {@code offsets[q]} of its {@code buffer}; rank {@code rank}'s own
     * elements are read from {@code own} (which may be that same place). One NCCL broadcast per rank with elements,
     * grouped (NCCL's all-gather when every rank has as many elements, back to back); every rank calls it from the
     * thread that drives its device, with the same counts. Enqueued only.
     */
    public void allGather(int rank, long own, long buffer, long[] offsets, long[] counts, DataType type, long stream) {
        if (even(offsets, counts)) {
            collective(rank, "ncclAllGather", root -> (int) allGather.invokeExact(own, buffer + offsets[0] * type.bytes, counts[0],
                    type.code, comms[rank], stream));
            return;
        }
        grouped(rank, offsets, counts, "all-gather", q -> (int) broadcast.invokeExact(q == rank ? own : buffer + offsets[q] * type.bytes,
                buffer + offsets[q] * type.bytes, counts[q], type.code, q, comms[rank], stream));
    }

    /**
     * Rank {@code rank}'s part of a reduce-scatter with a count per rank: rank q receives, at {@code out}, the sum over
     * every rank of the {@code counts[q]} elements at element {@code offsets[q]} of that rank's {@code buffer}. One
     * NCCL reduce per rank with elements, grouped (NCCL's reduce-scatter when the counts are even, as for
     * {@link #allGather}); called like {@link #allGather}. Enqueued only.
     */
    public void reduceScatterSum(int rank, long buffer, long out, long[] offsets, long[] counts, DataType type, long stream) {
        if (even(offsets, counts)) {
            collective(rank, "ncclReduceScatter", root -> (int) reduceScatter.invokeExact(buffer + offsets[0] * type.bytes, out,
                    counts[0], type.code, 0 /* ncclSum */, comms[rank], stream));
            return;
        }
        grouped(rank, offsets, counts, "reduce-scatter", q -> (int) reduce.invokeExact(buffer + offsets[q] * type.bytes,
                q == rank ? out : buffer + offsets[q] * type.bytes, counts[q], type.code, 0 /* ncclSum */, q, comms[rank], stream));
    }

    /** Every rank has the same non-zero count and the ranks' parts lie back to back: a plain collective does. */
    private boolean even(long[] offsets, long[] counts) {
        if (offsets.length != devices.length || counts.length != devices.length || counts[0] <= 0 || offsets[0] < 0) {
            return false;
        }
        for (int q = 1; q < counts.length; q++) {
            if (counts[q] != counts[0] || offsets[q] != offsets[0] + q * counts[0]) {
                return false;
            }
        }
        return true;
    }

    private void collective(int rank, String call, RootCall launch) {
        if (closed) {
            throw new IllegalStateException("NCCL communicators are closed");
        }
        if (rank < 0 || rank >= devices.length || !local(rank)) {
            throw new IllegalArgumentException(call + " on rank " + rank + " of " + devices.length
                    + (rank >= 0 && rank < devices.length ? ", which is not in this process" : ""));
        }
        try {
            check(call + " (rank " + rank + ")", launch.call(rank));
        } catch (Throwable t) {
            throw CudaException.rethrow(t, call + " failed");
        }
    }

    @FunctionalInterface
    private interface RootCall {
        int call(int root) throws Throwable;
    }

    private void grouped(int rank, long[] offsets, long[] counts, String what, RootCall call) {
        if (closed) {
            throw new IllegalStateException("NCCL communicators are closed");
        }
        int n = devices.length;
        if (rank < 0 || rank >= n || offsets.length != n || counts.length != n) {
            throw new IllegalArgumentException(what + " on rank " + rank + " of " + n + " needs an offset and a count per rank");
        }
        if (!local(rank)) {
            throw new IllegalArgumentException(what + " on rank " + rank + " of " + n + ", which is not in this process");
        }
        for (int q = 0; q < n; q++) { // all checked before any call is queued
            if (counts[q] < 0 || offsets[q] < 0) {
                throw new IllegalArgumentException(what + ": rank " + q + " has " + counts[q] + " elements at " + offsets[q]);
            }
        }
        try {
            check("ncclGroupStart", (int) groupStart.invokeExact());
            try {
                for (int q = 0; q < n; q++) {
                    if (counts[q] > 0) {
                        check("NCCL " + what + " (rank " + rank + ", root " + q + ", " + counts[q] + " elements)", call.call(q));
                    }
                }
            } finally {
                check("ncclGroupEnd", (int) groupEnd.invokeExact());
            }
        } catch (Throwable t) {
            throw CudaException.rethrow(t, "NCCL " + what + " failed");
        }
    }

    private void check(String call, int status) throws Throwable {
        if (status != 0) {
            String text = ((MemorySegment) errorString.invokeExact(status)).reinterpret(256).getString(0);
            throw new CudaException(call + " failed: " + text + " (" + status + ")");
        }
    }

    /**
     * Aborts this process's communicators ({@code ncclCommAbort}) for a group given up on: the exchanges still waiting
     * for a rank that will never take part (one that failed, or whose process died) end, so the GPUs can run other
     * work. With a dead peer process the call itself may not return (seen on two H200s): call it from a thread that
     * can be left behind. Nothing may use the communicators afterwards, and {@link #close} then does nothing.
     */
    public void abort() {
        end(commAbort, "ncclCommAbort");
    }

    @Override
    public void close() {
        end(commDestroy, "ncclCommDestroy");
    }

    /** Ends every communicator of this process with {@code call} (destroy or abort), once for close and abort together. */
    private void end(MethodHandle call, String name) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            for (long comm : comms) {
                if (comm != 0) {
                    check(name, (int) call.invokeExact(comm));
                }
            }
        } catch (Throwable t) {
            throw CudaException.rethrow(t, name + " failed");
        }
    }
}
