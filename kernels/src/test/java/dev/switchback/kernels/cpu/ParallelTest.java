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
                        assertTrue(chunks.size() <= Math.max(1, Math.min(threads, count)), "at most one chunk per thread");
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
            });
            assertTrue(seen.contains(Thread.currentThread()), "the caller runs the first chunk");
            assertTrue(seen.size() >= 2, "the other chunks run on the pool: " + seen);
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
