package dev.switchback.kernels.cpu;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits a range of independent items over a fixed set of threads sized to the machine. Small jobs run on the
 * caller: forking costs microseconds, more than a tiny model's whole matrix-vector product.
 *
 * <p>A decoding step is some thirty short parallel calls in a row, each tens of microseconds. Waking a parked
 * thread costs about as much as one of them, so the threads spin for {@link #SPIN_NANOS} after a call before they
 * park, and the caller spins as long for its helpers before it blocks: back-to-back calls hand over in well
 * under a microsecond, and an idle pool costs nothing after that.
 */
public final class Parallel implements AutoCloseable {
    /** Below this many multiply-adds per chunk, a chunk is not worth a thread. */
    static final long MIN_WORK_PER_CHUNK = 32_768;

    /** Chunks per thread: enough that a late thread's share is picked up by the others, few enough to stay cheap. */
    static final int CHUNKS_PER_THREAD = 4;

    /** How long an idle thread (a helper between calls, a caller waiting for its helpers) spins before parking. */
    static final long SPIN_NANOS = 100_000;

    /** Whether this thread is running a chunk of a parallel loop (always, for the pool's own threads). */
    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    private static final Parallel SHARED = new Parallel(Runtime.getRuntime().availableProcessors());

    /** The threads besides the caller's. */
    private final Helper[] helpers;
    private final int threads;
    /** Set by {@link #rest()}: helpers park at once instead of spinning, until the next parallel call. */
    private volatile boolean resting;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.helpers = new Helper[threads - 1];
        for (int i = 0; i < helpers.length; i++) {
            helpers[i] = new Helper("switchback-kernels-" + i);
        }
    }

    /** The pool shared by the engine, one thread per available processor. */
    public static Parallel shared() {
        return SHARED;
    }

    public int threads() {
        return threads;
    }

    /**
     * Tells the helpers that no parallel call follows soon (a server's scheduler between steps, sampling and
     * streaming on the same cores): they park now rather than spin, leaving the cores to other threads. The next
     * call wakes them.
     */
    public void rest() {
        resting = true;
    }

    /** The pool's own threads (tests check that they park when idle and end on close). */
    List<Thread> helperThreads() {
        return Arrays.stream(helpers).map(h -> h.thread).toList();
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
        if (chunks <= 1 || helpers.length == 0 || INSIDE.get()[0]) {
            body.run(0, count);
            return;
        }
        if (resting) {
            resting = false;
        }
        Claims claims = new Claims(count, chunks, body);
        int helping = Math.min(threads, chunks) - 1;
        for (int i = 0; i < helping; i++) {
            helpers[i].offer(claims);
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
            long deadline = System.nanoTime() + SPIN_NANOS;
            while (done.getCount() > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
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

    /**
     * A pool thread. Calls are handed over in a one-slot mailbox: a newer call replaces one the thread has not
     * taken yet (that older call's caller then claims all its chunks itself), and a call taken late finds its
     * chunks all claimed and returns at once.
     */
    private final class Helper implements Runnable {
        private final AtomicReference<Claims> mailbox = new AtomicReference<>();
        private final Thread thread;
        private volatile boolean parked;
        private volatile boolean closed;

        Helper(String name) {
            this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this);
            thread.start();
        }

        void offer(Claims claims) {
            mailbox.set(claims);
            if (parked) { // read after the write above: a thread about to park sees the call or is unparked
                LockSupport.unpark(thread);
            }
        }

        @Override
        public void run() {
            INSIDE.get()[0] = true;
            while (!closed) {
                Claims claims = mailbox.getAndSet(null);
                if (claims != null) {
                    claims.work();
                    continue;
                }
                long deadline = System.nanoTime() + SPIN_NANOS;
                while (mailbox.get() == null && !closed && !resting && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                if (mailbox.get() != null) {
                    continue;
                }
                parked = true;
                if (mailbox.get() == null && !closed) {
                    LockSupport.park(this);
                }
                parked = false;
            }
        }

        void close() {
            closed = true;
            LockSupport.unpark(thread);
        }
    }

    @Override
    public void close() {
        if (this != SHARED) {
            for (Helper h : helpers) {
                h.close();
            }
        }
    }
}
