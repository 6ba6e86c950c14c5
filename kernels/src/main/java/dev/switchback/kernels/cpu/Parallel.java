package dev.switchback.kernels.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Splits a range of independent items over a fixed pool sized to the machine. Small jobs run on the caller:
 * forking costs microseconds, more than a tiny model's whole matrix-vector product.
 */
public final class Parallel implements AutoCloseable {
    /** Below this many multiply-adds per chunk, a chunk is not worth a thread. */
    static final long MIN_WORK_PER_CHUNK = 32_768;

    /** Chunks per thread: enough that a late thread's share is picked up by the others, few enough to stay cheap. */
    static final int CHUNKS_PER_THREAD = 4;

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
     * Runs {@code body} over {@code [0, count)} split in contiguous chunks, each at least worth a thread, up to
     * {@link #CHUNKS_PER_THREAD} per thread. The caller runs the first chunk and then, like the pool's threads,
     * claims the remaining chunks one at a time: a pool thread that is slow to start (its core busy with network
     * or another process) leaves its chunks to the others instead of stalling the whole call.
     *
     * @param workPerItem rough multiply-adds per item, to decide whether splitting pays
     */
    public void forRange(int count, long workPerItem, Range body) {
        if (count <= 0) {
            return;
        }
        long chunksByWork = Math.max(1, count * Math.max(1, workPerItem) / MIN_WORK_PER_CHUNK);
        int chunks = (int) Math.min(Math.min((long) threads * CHUNKS_PER_THREAD, count), chunksByWork);
        // Nested calls (a kernel inside an already parallel loop, e.g. one expert of several) run inline: the
        // outer loop already occupies the threads, and forking again would only add latency.
        if (chunks <= 1 || pool == null || ForkJoinTask.inForkJoinPool() || INSIDE.get()[0]) {
            body.run(0, count);
            return;
        }
        Claims claims = new Claims(count, chunks, body);
        int helpers = Math.min(threads, chunks) - 1;
        for (int i = 0; i < helpers; i++) {
            pool.execute(claims::work);
        }
        boolean[] inside = INSIDE.get();
        inside[0] = true;
        try {
            claims.run(0);
            claims.work();
        } finally {
            inside[0] = false;
        }
        claims.await();
    }

    /** Chunks claimed one at a time by whichever thread is free; the caller waits for the last to finish. */
    private static final class Claims {
        private final int count;
        private final int chunks;
        private final Range body;
        private final AtomicInteger next = new AtomicInteger(1);
        private final CountDownLatch done;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Claims(int count, int chunks, Range body) {
            this.count = count;
            this.chunks = chunks;
            this.body = body;
            this.done = new CountDownLatch(chunks);
        }

        void work() {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                run(c);
            }
        }

        void run(int c) {
            try {
                if (failure.get() == null) {
                    body.run((int) ((long) count * c / chunks), (int) ((long) count * (c + 1) / chunks));
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                done.countDown();
            }
        }

        void await() {
            boolean interrupted = false;
            while (true) {
                try {
                    done.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the chunks in flight still write into the caller's arrays: wait them out
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable t = failure.get();
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }

    @Override
    public void close() {
        if (pool != null && this != SHARED) {
            pool.shutdown();
        }
    }
}
