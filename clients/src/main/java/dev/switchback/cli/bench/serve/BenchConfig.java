package dev.switchback.cli.bench.serve;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;

/**
 * One benchmark run against one model of one server. Every run is bounded: it sends at most {@code maxRequests}
 * requests, none after {@code duration}, and gives up on any request still running {@code requestTimeout} after
 * it was sent, so a run ends by itself within {@code duration + requestTimeout}.
 *
 * @param url the server's base URL, on loopback ({@code http://127.0.0.1:8080})
 * @param apiKey sent as a bearer token; null for none
 * @param promptTokens about how many tokens each prompt holds (cut from the corpus by the server's own count)
 * @param outputTokens {@code max_tokens} of every request
 * @param temperature sampling temperature (0: greedy)
 * @param seed seeds the prompts, the arrivals and the server's sampling
 */
public record BenchConfig(URI url, String model, String apiKey, Load load, int maxRequests, Duration duration,
        Duration requestTimeout, int promptTokens, int outputTokens, double temperature, long seed, Slo slo) {

    public BenchConfig {
        url = loopbackUrl(url);
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("--model is required");
        }
        if (load == null) {
            throw new IllegalArgumentException("a load is required: --rate R or --concurrency C");
        }
        if (maxRequests <= 0) {
            throw new IllegalArgumentException("--requests must be >= 1, got " + maxRequests);
        }
        requirePositive("--duration-s", duration);
        requirePositive("--timeout-s", requestTimeout);
        if (promptTokens <= 0) {
            throw new IllegalArgumentException("--prompt-len must be >= 1, got " + promptTokens);
        }
        if (outputTokens <= 0) {
            throw new IllegalArgumentException("--output-len must be >= 1, got " + outputTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("--temperature must be a number >= 0, got " + temperature);
        }
        if (slo == null) {
            throw new IllegalArgumentException("SLOs are required (--slo-ttft-ms, --slo-tpot-ms)");
        }
    }

    /** The same run under another load (a sweep's levels). */
    public BenchConfig withLoad(Load other, int requests) {
        return new BenchConfig(url, model, apiKey, other, requests, duration, requestTimeout, promptTokens, outputTokens,
                temperature, seed, slo);
    }

    /**
     * The URL without a trailing slash, checked to be {@code http://} on a loopback address: the benchmark sends
     * load, and load goes only to this machine.
     */
    static URI loopbackUrl(URI url) {
        if (url == null) {
            throw new IllegalArgumentException("--url is required, e.g. http://127.0.0.1:8080");
        }
        if (!"http".equalsIgnoreCase(url.getScheme()) || url.getHost() == null) {
            throw new IllegalArgumentException("--url must be http://HOST:PORT on loopback, got " + url);
        }
        String host = url.getHost();
        boolean loopback;
        try {
            // A literal address or "localhost" resolves without asking DNS; any other name must resolve to loopback only.
            InetAddress[] all = InetAddress.getAllByName(host);
            loopback = all.length > 0;
            for (InetAddress a : all) {
                loopback &= a.isLoopbackAddress();
            }
        } catch (UnknownHostException e) {
            loopback = false;
        }
        if (!loopback) {
            throw new IllegalArgumentException("--url must be on loopback (localhost, 127.0.0.0/8 or [::1]); refusing to send load to "
                    + host);
        }
        String s = url.toString();
        return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    }

    private static void requirePositive(String flag, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(flag + " must be > 0, got "
                    + (d == null ? null : String.format(Locale.ROOT, "%.3f", d.toNanos() / 1e9)));
        }
    }
}
