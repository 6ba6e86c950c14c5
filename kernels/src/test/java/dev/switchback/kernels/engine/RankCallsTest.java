package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Calls on a sharded group's rank threads (no GPU: the "exchange" is a latch that only the failed rank would have
 * released): results come back in rank order; a failure that strands another rank is thrown after the grace period
 * instead of hanging, and the group then refuses every call naming why; a failure that strands nobody breaks nothing.
 */
class RankCallsTest {
    private final ExecutorService[] threads = new ExecutorService[3];
    private final CountDownLatch never = new CountDownLatch(1);

    RankCallsTest() {
        for (int r = 0; r < threads.length; r++) {
            threads[r] = Executors.newSingleThreadExecutor(task -> {
                Thread t = new Thread(task);
                t.setDaemon(true);
                return t;
            });
        }
    }

    @AfterEach
    void release() {
        never.countDown();
        for (ExecutorService t : threads) {
            t.shutdownNow();
        }
    }

    @Test
    void resultsComeBackInRankOrder() {
        RankCalls calls = new RankCalls(threads, TimeUnit.SECONDS.toNanos(5));
        assertEquals(List.of(0, 10, 20), calls.all(r -> {
            sleep(30 - 10 * r); // rank 2 finishes first
            return 10 * r;
        }));
        assertEquals("rank 1", calls.one(1, () -> "rank 1"));
    }

    /** Without the grace period this call would never return: the timeout turns that into a failure. */
    @Test
    @Timeout(30)
    void aFailureThatStrandsARankIsThrownAndBreaksTheGroup() {
        RankCalls calls = new RankCalls(threads, TimeUnit.MILLISECONDS.toNanos(200));
        long start = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> calls.all(r -> {
            if (r == 1) {
                throw new IllegalStateException("rank 1's kernel failed");
            }
            if (r == 0) {
                await(never); // waits in the exchange for rank 1
            }
            return r;
        }));
        assertEquals("rank 1's kernel failed", e.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "returned after the grace period");
        assertEquals("rank 1 failed (rank 1's kernel failed) and rank(s) [0] were left waiting for it", calls.broken());
        assertEquals("this sharded group cannot run any more: " + calls.broken(),
                assertThrows(IllegalStateException.class, () -> calls.all(r -> r)).getMessage());
        assertThrows(IllegalStateException.class, () -> calls.one(2, () -> 2));
    }

    /** The abort (here: opening the latch the stranded rank waits on) starts when the group breaks. */
    @Test
    @Timeout(30)
    void aBrokenGroupAbortsItsExchanges() throws Exception {
        CountDownLatch exchange = new CountDownLatch(1);
        RankCalls calls = new RankCalls(threads, TimeUnit.MILLISECONDS.toNanos(200), exchange::countDown);
        assertThrows(IllegalStateException.class, () -> calls.all(r -> {
            if (r == 1) {
                throw new IllegalStateException("rank 1's worker died");
            }
            if (r == 0) {
                await(exchange);
            }
            return r;
        }));
        assertTrue(exchange.await(10, TimeUnit.SECONDS), "the abort ran");
        assertEquals("rank 1 failed (rank 1's worker died) and rank(s) [0] were left waiting for it; the group's exchanges"
                + " were aborted", calls.broken());
        assertEquals(0, threads[0].submit(() -> 0).get(10, TimeUnit.SECONDS), "the stranded rank's thread came back");
    }

    @Test
    void aFailureThatStrandsNobodyBreaksNothing() {
        RankCalls calls = new RankCalls(threads, TimeUnit.SECONDS.toNanos(5));
        assertEquals("bad input", assertThrows(IllegalArgumentException.class, () -> calls.all(r -> {
            if (r == 2) {
                throw new IllegalArgumentException("bad input");
            }
            return r;
        })).getMessage());
        assertNull(calls.broken());
        assertEquals(List.of(0, 1, 2), calls.all(r -> r));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
