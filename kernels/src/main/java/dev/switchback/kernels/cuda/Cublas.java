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
import java.nio.file.Path;

/**
 * cuBLAS through java.lang.foreign: one handle on the device's stream with a fixed workspace (so its calls can be
 * captured in CUDA graphs), used for the BF16 tensor-core matmuls of larger batches. Statuses are checked and named.
 */
public final class Cublas implements AutoCloseable {
    private static final int OP_N = 0;
    private static final int OP_T = 1;
    private static final int R_32F = 0;
    private static final int R_16BF = 14;
    private static final int COMPUTE_32F = 68;
    private static final int GEMM_DEFAULT = -1;
    private static final long WORKSPACE = 32L << 20;

    private final MethodHandle gemmEx, gemmBatchedEx, destroy, statusString;
    private final long handle;
    private final MemorySegment one;
    private final MemorySegment zero;
    private boolean closed;

    private Cublas(SymbolLookup lib, CudaDevice dev) {
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(lib.findOrThrow("cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = linker.downcallHandle(lib.findOrThrow("cublasSetStream_v2"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        MethodHandle setWorkspace = linker.downcallHandle(lib.findOrThrow("cublasSetWorkspace_v2"),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        statusString = linker.downcallHandle(lib.findOrThrow("cublasGetStatusString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        destroy = linker.downcallHandle(lib.findOrThrow("cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        gemmEx = linker.downcallHandle(lib.findOrThrow("cublasGemmEx"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        gemmBatchedEx = linker.downcallHandle(lib.findOrThrow("cublasGemmBatchedEx"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT,
                JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check("cublasCreate", (int) create.invokeExact(h));
            handle = h.get(ADDRESS, 0).address();
            check("cublasSetStream", (int) setStream.invokeExact(handle, dev.stream()));
            check("cublasSetWorkspace", (int) setWorkspace.invokeExact(handle, dev.malloc(WORKSPACE), WORKSPACE));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuBLAS set-up failed", t);
        }
        one = Arena.global().allocate(JAVA_FLOAT);
        one.set(JAVA_FLOAT, 0, 1f);
        zero = Arena.global().allocate(JAVA_FLOAT);
        zero.set(JAVA_FLOAT, 0, 0f);
    }

    /** cuBLAS on {@code dev}'s stream, or a {@link CudaException} saying why not (library missing, set-up failed). */
    public static Cublas open(CudaDevice dev) {
        Path[] found = new Path[1];
        SymbolLookup lib = Cudart.findLibrary("libcublas", found);
        if (lib == null) {
            throw new CudaException("cuBLAS not found (libcublas.so under $CUDA_HOME/lib64, /usr/local/cuda/lib64 or the library path)");
        }
        return new Cublas(lib, dev);
    }

    private void check(String call, int status) {
        if (status != 0) {
            String text;
            try {
                text = ((MemorySegment) statusString.invokeExact(status)).reinterpret(256).getString(0);
            } catch (Throwable t) {
                text = "status " + status;
            }
            throw new CudaException(call + " failed: " + text + " (" + status + ")");
        }
    }

    /**
     * y[n, rows] (+)= x[n, cols]·Wᵀ with W BF16 row-major [rows, cols], x BF16 row-major, y F32 row-major,
     * F32 accumulation; {@code accumulate} adds into y instead of overwriting it.
     */
    public void linear(long xBf16, int n, long wBf16, int rows, int cols, long y, boolean accumulate) {
        if (closed) {
            throw new IllegalStateException("cuBLAS handle is closed");
        }
        MemorySegment beta = accumulate ? one : zero;
        try {
            // Column-major view: Y (rows × n) = Wᵀ (rows × cols, W stored cols × rows) · X (cols × n).
            check("cublasGemmEx(" + rows + "×" + cols + ", " + n + " tokens)", (int) gemmEx.invokeExact(handle, OP_T, OP_N,
                    rows, n, cols, one, wBf16, R_16BF, cols, xBf16, R_16BF, cols, beta, y, R_32F, rows,
                    COMPUTE_32F, GEMM_DEFAULT));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cublasGemmEx failed", t);
        }
    }

    /**
     * {@code batch} independent matmuls {@code y_i[n, rows] = x_i[n, cols]·W_iᵀ}, their matrices named by device arrays
     * of device pointers ({@code wPtrs}, {@code xPtrs}, {@code yPtrs}, {@code batch} each): W BF16 row-major
     * [rows, cols], x BF16 row-major, y F32 row-major (overwritten), F32 accumulation.
     */
    public void linearBatched(long xPtrs, int n, long wPtrs, int rows, int cols, long yPtrs, int batch) {
        if (closed) {
            throw new IllegalStateException("cuBLAS handle is closed");
        }
        try {
            check("cublasGemmBatchedEx(" + batch + " × " + rows + "×" + cols + ", " + n + " tokens)", (int) gemmBatchedEx.invokeExact(
                    handle, OP_T, OP_N, rows, n, cols, one, wPtrs, R_16BF, cols, xPtrs, R_16BF, cols, zero, yPtrs, R_32F, rows,
                    batch, COMPUTE_32F, GEMM_DEFAULT));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cublasGemmBatchedEx failed", t);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                check("cublasDestroy", (int) destroy.invokeExact(handle));
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException("cublasDestroy failed", t);
            }
        }
    }
}
