package dev.switchback.server.http;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts requests still being answered, so that shutdown can wait for them. */
final class InFlight {
    private static final long POLL_MILLIS = 10;
    private final AtomicInteger count = new AtomicInteger();

    void enter() {
        count.incrementAndGet();
    }

    void exit() {
        count.decrementAndGet();
    }

    int count() {
        return count.get();
    }

    /** Waits until nothing is in flight or {@code limit} passes; true when idle. Never called on an event loop. */
    boolean awaitIdle(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        // Polling keeps enter/exit (called on event loops for every request) free of locks and signalling.
        while (count.get() > 0) {
            if (System.nanoTime() >= deadline) {
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(POLL_MILLIS);
        }
        return true;
    }
}
