package dev.switchback.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyItemRunsExactlyOnceInContiguousChunks() {
        for (int threads : new int[] {1, 2, 4, 7}) {
            try (Parallel p = new Parallel(threads)) {
                for (int count = 0; count <= 70; count++) {
                    for (long work : new long[] {0, 1, Parallel.MIN_WORK_PER_CHUNK / 3, Parallel.MIN_WORK_PER_CHUNK, 1L << 40}) {
                        AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(count, 1));
                        List<int[]> chunks = new CopyOnWriteArrayList<>();
                        p.forRange(count, work, (from, to) -> {
                            chunks.add(new int[] {from, to});
                            for (int i = from; i < to; i++) {
                                runs.incrementAndGet(i);
                            }
                        });
                        for (int i = 0; i < count; i++) {
                            assertEquals(1, runs.get(i), "item " + i + " of " + count + ", " + threads + " threads, work " + work);
                        }
                        assertTrue(chunks.size() <= Math.max(1, Math.min(threads * Parallel.CHUNKS_PER_THREAD, count)),
                                "at most " + Parallel.CHUNKS_PER_THREAD + " chunks per thread");
                        for (int[] c : chunks) {
                            assertTrue(c[0] < c[1] || count == 0, "no empty chunk: " + c[0] + ".." + c[1]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void smallJobsRunOnTheCaller() {
        try (Parallel p = new Parallel(4)) {
            Set<Thread> seen = ConcurrentHashMap.newKeySet();
            p.forRange(100, Parallel.MIN_WORK_PER_CHUNK / 100 - 1, (from, to) -> seen.add(Thread.currentThread()));
            assertEquals(Set.of(Thread.currentThread()), seen);
        }
    }

    @Test
    void largeJobsUseThePoolsThreads() {
        try (Parallel p = new Parallel(4)) {
            Set<Thread> seen = ConcurrentHashMap.newKeySet();
            p.forRange(4, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
                assertEquals(from + 1, to, "four items, four chunks");
                seen.add(Thread.currentThread());
                try {
                    Thread.sleep(50); // long enough that the pool's threads claim chunks too
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(seen.contains(Thread.currentThread()), "the caller runs the first chunk");
            assertTrue(seen.size() >= 2, "the other chunks run on the pool: " + seen);
        }
    }

    /** A pool thread busy elsewhere (here: blocked in another call's chunk) must not hold this call up. */
    @Test
    void aBusyPoolThreadLeavesItsChunksToTheCaller() throws Exception {
        try (Parallel p = new Parallel(2)) {
            java.util.concurrent.CountDownLatch blocked = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            // The other call's caller runs chunk 0 and waits there until the pool's thread has taken chunk 1,
            // which then holds that thread until released.
            Thread other = Thread.ofPlatform().start(() -> p.forRange(2, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
                try {
                    if (from == 0) {
                        blocked.await();
                    } else {
                        blocked.countDown();
                        release.await();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            assertTrue(blocked.await(10, java.util.concurrent.TimeUnit.SECONDS), "the pool's thread is held");
            AtomicIntegerArray runs = new AtomicIntegerArray(64);
            p.forRange(64, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
                for (int i = from; i < to; i++) {
                    runs.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 64; i++) {
                assertEquals(1, runs.get(i), "item " + i + " ran once, while the pool's only thread was busy");
            }
            release.countDown();
            other.join();
        }
    }

    @Test
    void aFailingChunkFailsTheCall() {
        try (Parallel p = new Parallel(4)) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> p.forRange(8, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
                if (from >= 4) {
                    throw new IllegalStateException("chunk " + from);
                }
            }));
            Throwable cause = e instanceof IllegalStateException ? e : e.getCause();
            assertTrue(cause instanceof IllegalStateException, "the chunk's exception surfaces: " + e);
        }
    }

    /** Helpers spin between back-to-back calls, but an idle pool must not keep burning its cores. */
    @Test
    void idleHelpersParkAndClosedHelpersEnd() throws Exception {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        Parallel p = new Parallel(3);
        List<Thread> threads = p.helperThreads();
        assertEquals(2, threads.size());
        Set<Thread> seen = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 200 && !seen.containsAll(threads); i++) {
            p.forRange(3, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
                seen.add(Thread.currentThread());
                long until = System.nanoTime() + 200_000;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            });
        }
        assertTrue(seen.containsAll(threads), "both helpers took chunks: " + seen);
        Thread.sleep(50); // well past the spin period
        long[] before = threads.stream().mapToLong(t -> mx.getThreadCpuTime(t.threadId())).toArray();
        Thread.sleep(200);
        for (int i = 0; i < threads.size(); i++) {
            long used = mx.getThreadCpuTime(threads.get(i).threadId()) - before[i];
            assertTrue(used < 20_000_000L, threads.get(i).getName() + " used " + used / 1_000_000 + " ms of CPU while idle");
        }
        p.close();
        for (Thread t : threads) {
            t.join(5_000);
            assertTrue(!t.isAlive(), t.getName() + " ended after close");
        }
    }

    @Test
    void threadsMustBePositive() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
        assertTrue(e.getMessage().contains("threads"), e.getMessage());
        assertEquals(1, new Parallel(1).threads());
    }

    @Test
    void sharedPoolHasOneThreadPerProcessorAndSurvivesClose() {
        Parallel shared = Parallel.shared();
        assertEquals(Runtime.getRuntime().availableProcessors(), shared.threads());
        shared.close();
        assertSame(shared, Parallel.shared());
        int[] sum = new int[1];
        shared.forRange(3, Parallel.MIN_WORK_PER_CHUNK, (from, to) -> {
            synchronized (sum) {
                sum[0] += to - from;
            }
        });
        assertEquals(3, sum[0], "closing the shared pool is a no-op");
    }
}
