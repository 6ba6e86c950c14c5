package dev.switchback.kernels.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Calls on the ranks of a sharded group, each on its own thread. The ranks of one call meet in NCCL's exchanges, so
 * when one rank fails the others may wait for it forever: they get {@code strandedNanos} to finish after the first
 * failure, then the failure is thrown and the group is marked broken (every later call is refused, naming why) rather
 * than the caller hanging. A failure that leaves no rank waiting breaks nothing. When the group breaks, {@code abort}
 * starts on a thread of its own (the group's NCCL communicators aborted, so the stranded ranks' exchanges end and
 * their GPUs can run other work; the abort itself may never return).
 */
final class RankCalls {
    private static final System.Logger LOG = System.getLogger(RankCalls.class.getName());
    private final ExecutorService[] threads;
    private final long strandedNanos;
    private final Runnable abort;
    private volatile String broken;

    RankCalls(ExecutorService[] threads, long strandedNanos) {
        this(threads, strandedNanos, null);
    }

    RankCalls(ExecutorService[] threads, long strandedNanos, Runnable abort) {
        this.threads = threads;
        this.strandedNanos = strandedNanos;
        this.abort = abort;
    }

    /** Why the group cannot run any more, or null. */
    String broken() {
        return broken;
    }

    /** Runs {@code step} on every rank at once and returns each rank's result, in rank order. */
    <T> List<T> all(IntFunction<T> step) {
        refuseIfBroken();
        int n = threads.length;
        BlockingQueue<Integer> finished = new LinkedBlockingQueue<>();
        List<Future<T>> futures = new ArrayList<>(n);
        for (int r = 0; r < n; r++) {
            int rank = r;
            futures.add(threads[r].submit(() -> {
                try {
                    return step.apply(rank);
                } finally {
                    finished.add(rank);
                }
            }));
        }
        Object[] values = new Object[n];
        boolean[] done = new boolean[n];
        RuntimeException failure = null;
        int failed = -1;
        long deadline = 0;
        try {
            for (int remaining = n; remaining > 0; remaining--) {
                Integer r = failure == null ? finished.take() : finished.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (r == null) {
                    List<Integer> waiting = new ArrayList<>();
                    for (int q = 0; q < n; q++) {
                        if (!done[q]) {
                            waiting.add(q);
                        }
                    }
                    broken = "rank " + failed + " failed (" + failure.getMessage() + ") and rank(s) " + waiting + " were left waiting for it"
                            + (abort != null ? "; the group's exchanges were aborted" : "");
                    if (abort != null) {
                        Thread.ofPlatform().daemon().name("abort-exchanges").start(() -> {
                            try {
                                abort.run();
                            } catch (RuntimeException e) {
                                LOG.log(System.Logger.Level.WARNING, "aborting a broken group's exchanges failed", e);
                            }
                        });
                    }
                    break;
                }
                done[r] = true;
                try {
                    values[r] = futures.get(r).get();
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = unwrap(e);
                        failed = r;
                        deadline = System.nanoTime() + strandedNanos;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during a sharded step", e);
        }
        if (failure != null) {
            throw failure;
        }
        @SuppressWarnings("unchecked")
        List<T> out = (List<T>) Arrays.asList(values);
        return out;
    }

    /** Runs {@code task} on rank {@code r}'s thread and waits for it; its exception is rethrown here. */
    <T> T one(int r, Callable<T> task) {
        refuseIfBroken();
        try {
            return threads[r].submit(task).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while rank " + r + " worked", e);
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    private void refuseIfBroken() {
        if (broken != null) {
            throw new IllegalStateException("this sharded group cannot run any more: " + broken);
        }
    }

    static RuntimeException unwrap(ExecutionException e) {
        return e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
    }
}
