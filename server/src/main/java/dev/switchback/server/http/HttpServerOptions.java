package dev.switchback.server.http;

import java.time.Duration;
import java.time.InstantSource;

/**
 * Settings of the OpenAI-compatible HTTP front door.
 *
 * @param host the address to bind ("0.0.0.0" for all interfaces)
 * @param maxBodyBytes largest request body accepted; larger ones get 413
 * @param apiKey the key clients must send as {@code Authorization: Bearer KEY}, or null to leave the API open
 *     (health endpoints are always open)
 * @param requestTimeout deadline of a generation from submission when the request sets none; null for none
 * @param defaultMaxTokens {@code max_tokens} when a request leaves it out
 * @param maxStreamBufferBytes most bytes of a streamed response that may wait for a slow client before the
 *     generation is cancelled and the stream closed (a generation cannot pause, so a slow reader is cut
 *     instead of buffered without bound)
 * @param maxConcurrentStreams HTTP/2 streams one connection may have open at once
 * @param retryAfterSeconds the {@code Retry-After} sent with 429 when the waiting queue is full
 * @param shutdownGrace how long {@link HttpServer#close()} lets in-flight requests finish before cutting them
 * @param ioThreads event-loop threads; 0 for one per four cores (at least one), see {@link #effectiveIoThreads()}
 * @param clock the source of {@code created} timestamps
 */
public record HttpServerOptions(
        String host,
        int maxBodyBytes,
        String apiKey,
        Duration requestTimeout,
        int defaultMaxTokens,
        int maxStreamBufferBytes,
        int maxConcurrentStreams,
        int retryAfterSeconds,
        Duration shutdownGrace,
        int ioThreads,
        InstantSource clock) {

    public HttpServerOptions {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host is required");
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("maxBodyBytes must be >= 1, got " + maxBodyBytes);
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("apiKey must be null (open) or non-blank");
        }
        if (requestTimeout != null && (requestTimeout.isNegative() || requestTimeout.isZero())) {
            throw new IllegalArgumentException("requestTimeout must be positive or null, got " + requestTimeout);
        }
        if (defaultMaxTokens < 1) {
            throw new IllegalArgumentException("defaultMaxTokens must be >= 1, got " + defaultMaxTokens);
        }
        if (maxStreamBufferBytes < 1024) {
            throw new IllegalArgumentException("maxStreamBufferBytes must be >= 1024, got " + maxStreamBufferBytes);
        }
        if (maxConcurrentStreams < 1) {
            throw new IllegalArgumentException("maxConcurrentStreams must be >= 1, got " + maxConcurrentStreams);
        }
        if (retryAfterSeconds < 0) {
            throw new IllegalArgumentException("retryAfterSeconds must be >= 0, got " + retryAfterSeconds);
        }
        if (shutdownGrace == null || shutdownGrace.isNegative()) {
            throw new IllegalArgumentException("shutdownGrace must be >= 0, got " + shutdownGrace);
        }
        if (ioThreads < 0) {
            throw new IllegalArgumentException("ioThreads must be >= 0, got " + ioThreads);
        }
        if (clock == null) {
            throw new IllegalArgumentException("clock is required");
        }
    }

    /**
     * All interfaces, 1 MiB bodies, no API key, 10-minute deadline, 256 tokens by default, 1 MiB of stream backlog,
     * 256 HTTP/2 streams, Retry-After 1 s, 10 s of shutdown grace.
     */
    public static HttpServerOptions defaults() {
        return new HttpServerOptions("0.0.0.0", 1 << 20, null, Duration.ofMinutes(10), 256, 1 << 20, 256, 1,
                Duration.ofSeconds(10), 0, InstantSource.system());
    }

    public HttpServerOptions withHost(String h) {
        return new HttpServerOptions(h, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withMaxBodyBytes(int bytes) {
        return new HttpServerOptions(host, bytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withApiKey(String key) {
        return new HttpServerOptions(host, maxBodyBytes, key, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withRequestTimeout(Duration timeout) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, timeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withDefaultMaxTokens(int tokens) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, tokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withMaxStreamBufferBytes(int bytes) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, bytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withMaxConcurrentStreams(int streams) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                streams, retryAfterSeconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withRetryAfterSeconds(int seconds) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, seconds, shutdownGrace, ioThreads, clock);
    }

    public HttpServerOptions withShutdownGrace(Duration grace) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, grace, ioThreads, clock);
    }

    /**
     * The event-loop threads to start. The engine keeps every core busy computing, so a few loops suffice, and
     * Netty's default for I/O-bound servers (twice the cores) only adds threads that take cores from the engine:
     * on 2 cores, 4 loops cost 42% of the in-process throughput where 1 loop cost 23% (docs/benchmarks.md).
     */
    public int effectiveIoThreads() {
        return ioThreads > 0 ? ioThreads : Math.max(1, Runtime.getRuntime().availableProcessors() / 4);
    }

    public HttpServerOptions withIoThreads(int threads) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, threads, clock);
    }

    public HttpServerOptions withClock(InstantSource source) {
        return new HttpServerOptions(host, maxBodyBytes, apiKey, requestTimeout, defaultMaxTokens, maxStreamBufferBytes,
                maxConcurrentStreams, retryAfterSeconds, shutdownGrace, ioThreads, source);
    }

    @Override
    public String toString() {
        // The key never goes to logs.
        return "HttpServerOptions[host=" + host + ", maxBodyBytes=" + maxBodyBytes + ", apiKey="
                + (apiKey == null ? "none" : "set") + ", requestTimeout=" + requestTimeout + ", defaultMaxTokens="
                + defaultMaxTokens + ", maxStreamBufferBytes=" + maxStreamBufferBytes + ", maxConcurrentStreams="
                + maxConcurrentStreams + ", retryAfterSeconds=" + retryAfterSeconds + ", shutdownGrace="
                + shutdownGrace + ", ioThreads=" + ioThreads + "]";
    }
}
