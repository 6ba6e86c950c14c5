package dev.switchback.kernels.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Splits a range of independent items over a fixed pool sized to the machine. Small jobs run on the caller:
 * forking costs microseconds, more than a tiny model's whole matrix-vector product.
 */
public final class Parallel implements AutoCloseable {
    /** Below this many multiply-adds per chunk, a chunk is not worth a thread. */
    static final long MIN_WORK_PER_CHUNK = 32_768;

    /** Whether this (calling) thread is running a chunk of a parallel loop; pool threads are detected directly. */
    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    private static final Parallel SHARED = new Parallel(Runtime.getRuntime().availableProcessors());

    private final ForkJoinPool pool;
    private final int threads;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
    }

    /** The pool shared by the engine, one thread per available processor. */
    public static Parallel shared() {
        return SHARED;
    }

    public int threads() {
        return threads;
    }

    /** A body run over {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over {@code [0, count)} split in contiguous chunks, each at least worth a thread.
     *
     * @param workPerItem rough multiply-adds per item, to decide whether splitting pays
     */
    public void forRange(int count, long workPerItem, Range body) {
        if (count <= 0) {
            return;
        }
        long chunksByWork = Math.max(1, count * Math.max(1, workPerItem) / MIN_WORK_PER_CHUNK);
        int chunks = (int) Math.min(Math.min(threads, count), chunksByWork);
        // Nested calls (a kernel inside an already parallel loop, e.g. one expert of several) run inline: the
        // outer loop already occupies the threads, and forking again would only add latency.
        if (chunks <= 1 || pool == null || ForkJoinTask.inForkJoinPool() || INSIDE.get()[0]) {
            body.run(0, count);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            int from = (int) ((long) count * c / chunks);
            int to = (int) ((long) count * (c + 1) / chunks);
            tasks[c - 1] = pool.submit(() -> body.run(from, to));
        }
        boolean[] inside = INSIDE.get();
        inside[0] = true;
        try {
            body.run(0, count / chunks);
        } finally {
            inside[0] = false;
        }
        for (ForkJoinTask<?> t : tasks) {
            t.join();
        }
    }

    @Override
    public void close() {
        if (pool != null && this != SHARED) {
            pool.shutdown();
        }
    }
}
