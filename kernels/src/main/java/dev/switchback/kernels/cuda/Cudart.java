package dev.switchback.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA runtime (libcudart) through java.lang.foreign: the calls the engine needs, each status checked and
 * turned into a {@link CudaException} that names the call. Device pointers, streams, events and graphs are
 * plain {@code long} handles.
 */
public final class Cudart {
    public static final int H2D = 1;
    public static final int D2H = 2;
    public static final int D2D = 3;
    private static final int ATTR_SM_COUNT = 16;
    private static final int ATTR_CC_MAJOR = 75;
    private static final int ATTR_CC_MINOR = 76;
    private static final int NON_BLOCKING = 1;
    private static final int CAPTURE_RELAXED = 2;

    private static volatile Cudart instance;
    private static volatile String loadFailure;

    private final Path library;
    private final MethodHandle getDeviceCount, setDevice, getErrorName, getErrorString, deviceGetAttribute, memGetInfo,
            malloc, free, mallocHost, freeHost, memcpyAsync, memsetAsync, streamCreateWithFlags, streamSynchronize,
            streamDestroy, beginCapture, endCapture, graphInstantiate, graphLaunch, graphExecDestroy, graphDestroy,
            eventCreate, eventRecord, eventSynchronize, eventElapsedTime, eventDestroy, runtimeGetVersion,
            driverGetVersion, deviceSynchronize;

    private Cudart(Path library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        Binder b = new Binder(linker, lib);
        getDeviceCount = b.bind("cudaGetDeviceCount", ADDRESS);
        setDevice = b.bind("cudaSetDevice", JAVA_INT);
        getErrorName = linker.downcallHandle(lib.findOrThrow("cudaGetErrorName"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getErrorString = linker.downcallHandle(lib.findOrThrow("cudaGetErrorString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        deviceGetAttribute = b.bind("cudaDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        memGetInfo = b.bind("cudaMemGetInfo", ADDRESS, ADDRESS);
        malloc = b.bind("cudaMalloc", ADDRESS, JAVA_LONG);
        free = b.bind("cudaFree", JAVA_LONG);
        mallocHost = b.bind("cudaMallocHost", ADDRESS, JAVA_LONG);
        freeHost = b.bind("cudaFreeHost", ADDRESS);
        memcpyAsync = b.bind("cudaMemcpyAsync", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG);
        memsetAsync = b.bind("cudaMemsetAsync", JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG);
        streamCreateWithFlags = b.bind("cudaStreamCreateWithFlags", ADDRESS, JAVA_INT);
        streamSynchronize = b.bind("cudaStreamSynchronize", JAVA_LONG);
        streamDestroy = b.bind("cudaStreamDestroy", JAVA_LONG);
        beginCapture = b.bind("cudaStreamBeginCapture", JAVA_LONG, JAVA_INT);
        endCapture = b.bind("cudaStreamEndCapture", JAVA_LONG, ADDRESS);
        graphInstantiate = b.bind("cudaGraphInstantiate", ADDRESS, JAVA_LONG, JAVA_LONG);
        graphLaunch = b.bind("cudaGraphLaunch", JAVA_LONG, JAVA_LONG);
        graphExecDestroy = b.bind("cudaGraphExecDestroy", JAVA_LONG);
        graphDestroy = b.bind("cudaGraphDestroy", JAVA_LONG);
        eventCreate = b.bind("cudaEventCreate", ADDRESS);
        eventRecord = b.bind("cudaEventRecord", JAVA_LONG, JAVA_LONG);
        eventSynchronize = b.bind("cudaEventSynchronize", JAVA_LONG);
        eventElapsedTime = b.bind("cudaEventElapsedTime", ADDRESS, JAVA_LONG, JAVA_LONG);
        eventDestroy = b.bind("cudaEventDestroy", JAVA_LONG);
        runtimeGetVersion = b.bind("cudaRuntimeGetVersion", ADDRESS);
        driverGetVersion = b.bind("cudaDriverGetVersion", ADDRESS);
        deviceSynchronize = b.bind("cudaDeviceSynchronize");
    }

    /** Binds functions returning cudaError_t (an int). */
    private record Binder(Linker linker, SymbolLookup lib) {
        MethodHandle bind(String name, java.lang.foreign.MemoryLayout... args) {
            return linker.downcallHandle(lib.findOrThrow(name), FunctionDescriptor.of(JAVA_INT, args));
        }
    }

    /** The runtime, loaded once; throws a {@link CudaException} saying why when there is none. */
    public static Cudart get() {
        Cudart c = instance;
        if (c != null) {
            return c;
        }
        synchronized (Cudart.class) {
            if (instance == null && loadFailure == null) {
                try {
                    instance = load();
                } catch (CudaException e) {
                    loadFailure = e.getMessage();
                }
            }
            if (instance == null) {
                throw new CudaException(loadFailure);
            }
            return instance;
        }
    }

    /**
     * Why CUDA cannot be used here (no runtime library, no device), or null when a device is there. Never
     * throws: callers print the reason and fall back to the CPU.
     */
    public static String unavailableReason() {
        try {
            int n = get().deviceCount();
            return n > 0 ? null : "no CUDA device found (cudaGetDeviceCount = 0)";
        } catch (CudaException e) {
            return e.getMessage();
        }
    }

    private static Cudart load() {
        Path[] found = new Path[1];
        SymbolLookup lib = findLibrary("libcudart", found);
        if (lib == null) {
            throw new CudaException("CUDA runtime not found: no libcudart.so under $CUDA_HOME/lib64 or /usr/local/cuda/lib64,"
                    + " nor on the library path; install the CUDA toolkit or use --device cpu");
        }
        return new Cudart(found[0], lib);
    }

    /**
     * A CUDA library ({@code libcudart}, {@code libcublas}, ...) from {@code $CUDA_HOME/lib64},
     * {@code /usr/local/cuda/lib64} or the library path, or null; {@code found[0]} gets where it came from.
     */
    static SymbolLookup findLibrary(String base, Path[] found) {
        List<Path> candidates = new ArrayList<>();
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home != null && !home.isBlank()) {
                for (String suffix : new String[] {".so", ".so.13", ".so.12"}) {
                    candidates.add(Path.of(home, "lib64", base + suffix));
                }
            }
        }
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) {
                found[0] = p;
                return SymbolLookup.libraryLookup(p, Arena.global());
            }
        }
        for (String suffix : new String[] {".so.13", ".so.12", ".so"}) {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(base + suffix, Arena.global());
                found[0] = Path.of(base + suffix);
                return lib;
            } catch (IllegalArgumentException notFound) {
                // try the next name
            }
        }
        return null;
    }

    /** The libcudart this binding loaded (a path, or a bare name resolved by the dynamic linker). */
    public Path library() {
        return library;
    }

    private void check(String call, int code) {
        if (code != 0) {
            throw new CudaException(call + " failed: " + errorName(code) + " (" + code + "): " + errorString(code));
        }
    }

    /** Checks the status a kernel launcher of ours returned. */
    public void checkLaunch(String call, int code) {
        check(call, code);
    }

    public String errorName(int code) {
        try {
            return ((MemorySegment) getErrorName.invokeExact(code)).reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "cudaError " + code;
        }
    }

    public String errorString(int code) {
        try {
            return ((MemorySegment) getErrorString.invokeExact(code)).reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return "";
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        return CudaException.rethrow(t, "native call failed");
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            int rc = (int) getDeviceCount.invokeExact(n);
            if (rc == 100 || rc == 35 || rc == 3) { // no device, insufficient driver, initialization error
                throw new CudaException("no usable CUDA device: " + errorName(rc) + ": " + errorString(rc));
            }
            check("cudaGetDeviceCount", rc);
            return n.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void setDevice(int device) {
        try {
            check("cudaSetDevice(" + device + ")", (int) setDevice.invokeExact(device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private int attribute(int attr, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cudaDeviceGetAttribute(" + attr + ")", (int) deviceGetAttribute.invokeExact(v, attr, device));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Compute capability as major·10 + minor (90 for Hopper). */
    public int computeCapability(int device) {
        return attribute(ATTR_CC_MAJOR, device) * 10 + attribute(ATTR_CC_MINOR, device);
    }

    public int multiprocessors(int device) {
        return attribute(ATTR_SM_COUNT, device);
    }

    /** {free, total} bytes of the current device. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG);
            MemorySegment t = a.allocate(JAVA_LONG);
            check("cudaMemGetInfo", (int) memGetInfo.invokeExact(f, t));
            return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int runtimeVersion() {
        return intOut(runtimeGetVersion, "cudaRuntimeGetVersion");
    }

    public int driverVersion() {
        return intOut(driverGetVersion, "cudaDriverGetVersion");
    }

    private int intOut(MethodHandle h, String call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call, (int) h.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Device memory of {@code bytes}; the message says how much is free when it fails. */
    public long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) malloc.invokeExact(p, bytes);
            if (rc == 2) {
                long[] info = memoryInfo();
                throw new CudaException("cudaMalloc(" + bytes + " bytes) failed: out of device memory ("
                        + info[0] / (1 << 20) + " MiB free of " + info[1] / (1 << 20) + " MiB)");
            }
            check("cudaMalloc(" + bytes + " bytes)", rc);
            return p.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void free(long ptr) {
        try {
            check("cudaFree", (int) free.invokeExact(ptr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Page-locked host memory (fast, truly asynchronous copies). */
    public MemorySegment mallocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cudaMallocHost(" + bytes + " bytes)", (int) mallocHost.invokeExact(p, bytes));
            return p.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void freeHost(MemorySegment p) {
        try {
            check("cudaFreeHost", (int) freeHost.invokeExact(p));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Copies {@code bytes} between addresses (device pointers or host segment addresses) on a stream. */
    public void memcpyAsync(long dst, long src, long bytes, int kind, long stream) {
        try {
            check("cudaMemcpyAsync(" + bytes + " bytes, kind " + kind + ")",
                    (int) memcpyAsync.invokeExact(dst, src, bytes, kind, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetAsync(long dst, int value, long bytes, long stream) {
        try {
            check("cudaMemsetAsync", (int) memsetAsync.invokeExact(dst, value, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cudaStreamCreateWithFlags", (int) streamCreateWithFlags.invokeExact(p, NON_BLOCKING));
            return p.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamSynchronize(long stream) {
        try {
            check("cudaStreamSynchronize", (int) streamSynchronize.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamDestroy(long stream) {
        try {
            check("cudaStreamDestroy", (int) streamDestroy.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void deviceSynchronize() {
        try {
            check("cudaDeviceSynchronize", (int) deviceSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Starts recording the stream's launches into a graph (relaxed mode: other threads may still call CUDA). */
    public void beginCapture(long stream) {
        try {
            check("cudaStreamBeginCapture", (int) beginCapture.invokeExact(stream, CAPTURE_RELAXED));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Ends the capture and instantiates it; returns the executable graph. */
    public long endCaptureAndInstantiate(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            check("cudaStreamEndCapture", (int) endCapture.invokeExact(stream, g));
            long graph = g.get(ADDRESS, 0).address();
            MemorySegment e = a.allocate(ADDRESS);
            try {
                check("cudaGraphInstantiate", (int) graphInstantiate.invokeExact(e, graph, 0L));
            } finally {
                check("cudaGraphDestroy", (int) graphDestroy.invokeExact(graph));
            }
            return e.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphLaunch(long exec, long stream) {
        try {
            check("cudaGraphLaunch", (int) graphLaunch.invokeExact(exec, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphExecDestroy(long exec) {
        try {
            check("cudaGraphExecDestroy", (int) graphExecDestroy.invokeExact(exec));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cudaEventCreate", (int) eventCreate.invokeExact(p));
            return p.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventRecord(long event, long stream) {
        try {
            check("cudaEventRecord", (int) eventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Milliseconds between two recorded events (waits for the second). */
    public float elapsedMillis(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            check("cudaEventSynchronize", (int) eventSynchronize.invokeExact(end));
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            check("cudaEventElapsedTime", (int) eventElapsedTime.invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventDestroy(long event) {
        try {
            check("cudaEventDestroy", (int) eventDestroy.invokeExact(event));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
