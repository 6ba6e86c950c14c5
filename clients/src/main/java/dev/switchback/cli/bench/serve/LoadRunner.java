package dev.switchback.cli.bench.serve;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;

/**
 * Drives one load against the server: sends requests as the load says until the request cap or the time cap, then
 * waits for those in flight (each bounded by the request timeout).
 */
final class LoadRunner {
    /** The requests of one run, in the order they were sent, and the span from the first send to the last end. */
    record Run(List<RequestResult> results, long startNanos, long endNanos) {
        double seconds() {
            return (endNanos - startNanos) / 1e9;
        }
    }

    private final BenchConfig config;
    private final CompletionDriver driver;
    private final IntFunction<String> bodies;
    private final PrintWriter progress;
    private final Queue<RequestResult> results = new ConcurrentLinkedQueue<>();
    private final AtomicInteger sent = new AtomicInteger();

    /**
     * @param bodies the body of the i-th request
     * @param progress where a status line goes every few seconds; null for none
     */
    LoadRunner(BenchConfig config, CompletionDriver driver, IntFunction<String> bodies, PrintWriter progress) {
        this.config = config;
        this.driver = driver;
        this.bodies = bodies;
        this.progress = progress;
    }

    Run run() throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + config.duration().toNanos();
        Thread reporter = progress == null ? null : Thread.ofPlatform().daemon().name("bench-progress").start(() -> report(start));
        try {
            switch (config.load()) {
                case Load.Open open -> runOpen(open, start, deadline);
                case Load.Closed closed -> runClosed(closed, deadline);
            }
        } finally {
            if (reporter != null) {
                reporter.interrupt();
                reporter.join();
            }
        }
        List<RequestResult> all = new ArrayList<>(results);
        all.sort(Comparator.comparingLong(RequestResult::sentNanos));
        long end = all.stream().mapToLong(RequestResult::endNanos).max().orElse(start);
        long first = all.isEmpty() ? start : all.getFirst().sentNanos();
        return new Run(all, first, end);
    }

    // Arrivals follow the clock, not the answers: a slow server gets requests at the same rate and queues them.
    private void runOpen(Load.Open open, long start, long deadline) throws InterruptedException {
        Arrivals.Gaps gaps = open.arrivals().gaps(open.ratePerSecond(), config.seed());
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        long at = start;
        for (int i = 0; i < config.maxRequests(); i++) {
            if (i > 0) {
                at += gaps.nextNanos();
            }
            if (at >= deadline) {
                break;
            }
            String body = bodies.apply(i);
            for (long wait; (wait = at - System.nanoTime()) > 0; ) {
                LockSupport.parkNanos(wait);
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
            sent.incrementAndGet();
            inFlight.add(driver.send(body).thenAccept(results::add));
        }
        awaitAll(CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)));
    }

    // Each user sends its next request when its last one ends, until a cap says stop.
    private void runClosed(Load.Closed closed, long deadline) throws InterruptedException {
        CountDownLatch users = new CountDownLatch(closed.concurrency());
        for (int u = 0; u < closed.concurrency(); u++) {
            nextOf(users, deadline);
        }
        CompletableFuture<Void> all = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                users.await();
                all.complete(null);
            } catch (InterruptedException e) {
                all.cancel(false);
            }
        });
        awaitAll(all);
    }

    private void nextOf(CountDownLatch users, long deadline) {
        int i = sent.getAndIncrement();
        if (i >= config.maxRequests() || System.nanoTime() >= deadline) {
            sent.decrementAndGet();
            users.countDown();
            return;
        }
        driver.send(bodies.apply(i)).thenAccept(r -> {
            results.add(r);
            nextOf(users, deadline);
        });
    }

    private void awaitAll(CompletableFuture<Void> all) throws InterruptedException {
        // Every request is cancelled at its timeout, so this bound is a backstop, not the rule.
        long bound = config.duration().plus(config.requestTimeout()).toNanos() + TimeUnit.SECONDS.toNanos(30);
        try {
            all.get(bound, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("the run did not end within its time cap: " + e);
        }
    }

    private void report(long start) {
        try {
            while (true) {
                Thread.sleep(2000);
                line(start);
            }
        } catch (InterruptedException e) {
            // the run is over; its report follows
        }
    }

    private void line(long start) {
        int done = results.size();
        long failed = results.stream().filter(r -> !r.ok()).count();
        progress.printf(Locale.ROOT, "  %s: %d sent, %d done (%d failed), %.0f of %.0f s%n", config.load().label(), sent.get(), done,
                failed, (System.nanoTime() - start) / 1e9, config.duration().toNanos() / 1e9);
        progress.flush();
    }
}
