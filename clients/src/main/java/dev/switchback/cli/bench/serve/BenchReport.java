package dev.switchback.cli.bench.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The figures of one run. Throughputs divide by the run's span (first request sent to last one ended); token
 * counts are the client's (one per token event), with the server's {@code usage} beside them as a check; latencies
 * are over completed requests: TTFT (sent to first token), TPOT ((e2e − TTFT) / (tokens − 1), per request), ITL
 * (every gap between consecutive tokens of a request) and E2E (sent to end of stream).
 *
 * @param usageMismatches completed requests whose counted tokens differ from {@code usage.completion_tokens} (or
 *     that came without usage)
 * @param goodRequests completed requests that met both SLOs
 * @param errors failed requests by kind, each with the first message seen
 */
public record BenchReport(BenchConfig config, int sent, int completed, double seconds, long inputTokens, long outputTokens,
        long usageOutputTokens, int usageMismatches, int goodRequests, Latency.Summary ttft, Latency.Summary tpot,
        Latency.Summary itl, Latency.Summary e2e, Map<String, ErrorCount> errors, Curves curves) {
    static final ObjectMapper JSON = new ObjectMapper();

    /** How often one kind of error happened, and what the first one said. */
    public record ErrorCount(int count, String example) {}

    /** The latency CDFs as (ms, fraction) pairs, for plotting; not part of results.json. */
    public record Curves(double[][] ttft, double[][] tpot, double[][] itl) {}

    static BenchReport of(BenchConfig config, LoadRunner.Run run) {
        Latency ttft = new Latency();
        Latency tpot = new Latency();
        Latency itl = new Latency();
        Latency e2e = new Latency();
        long input = 0;
        long output = 0;
        long usageOutput = 0;
        int mismatches = 0;
        int completed = 0;
        int good = 0;
        Map<String, ErrorCount> errors = new TreeMap<>();
        for (RequestResult r : run.results()) {
            if (!r.ok()) {
                errors.merge(r.errorKind(), new ErrorCount(1, r.errorMessage()), (a, b) -> new ErrorCount(a.count() + 1, a.example()));
                continue;
            }
            completed++;
            ttft.record(r.ttftNanos());
            e2e.record(r.e2eNanos());
            if (r.outputTokens() >= 2) {
                tpot.record(r.tpotNanos());
            }
            long[] t = r.tokenArrivalNanos();
            for (int i = 1; i < t.length; i++) {
                itl.record(t[i] - t[i - 1]);
            }
            input += Math.max(0, r.usagePromptTokens());
            output += r.outputTokens();
            usageOutput += Math.max(0, r.usageCompletionTokens());
            if (r.usageCompletionTokens() != r.outputTokens()) {
                mismatches++;
            }
            if (config.slo().met(r)) {
                good++;
            }
        }
        return new BenchReport(config, run.results().size(), completed, run.seconds(), input, output, usageOutput, mismatches, good,
                ttft.summary(), tpot.summary(), itl.summary(), e2e.summary(), errors,
                new Curves(ttft.cdf(), tpot.cdf(), itl.cdf()));
    }

    public int failed() {
        return sent - completed;
    }

    public double requestsPerSecond() {
        return completed / seconds;
    }

    public double inputTokensPerSecond() {
        return inputTokens / seconds;
    }

    public double outputTokensPerSecond() {
        return outputTokens / seconds;
    }

    public double goodputPerSecond() {
        return goodRequests / seconds;
    }

    /** The figures as the JSON object of results.json. */
    ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode c = o.putObject("config");
        c.put("url", config.url().toString()).put("model", config.model()).put("load", config.load().label());
        switch (config.load()) {
            case Load.Open open -> c.put("rate_per_s", open.ratePerSecond())
                    .put("arrivals", open.arrivals().name().toLowerCase(Locale.ROOT));
            case Load.Closed closed -> c.put("concurrency", closed.concurrency());
        }
        c.put("max_requests", config.maxRequests()).put("duration_cap_s", config.duration().toMillis() / 1e3)
                .put("request_timeout_s", config.requestTimeout().toMillis() / 1e3).put("prompt_len", config.promptTokens())
                .put("output_len", config.outputTokens()).put("temperature", config.temperature()).put("seed", config.seed());
        o.putObject("requests").put("sent", sent).put("completed", completed).put("failed", failed());
        o.put("duration_s", seconds);
        o.putObject("throughput").put("requests_per_s", requestsPerSecond()).put("input_tokens_per_s", inputTokensPerSecond())
                .put("output_tokens_per_s", outputTokensPerSecond())
                .put("total_tokens_per_s", (inputTokens + outputTokens) / seconds);
        o.putObject("tokens").put("input", inputTokens).put("output_counted", outputTokens).put("output_usage", usageOutputTokens)
                .put("usage_mismatches", usageMismatches)
                .put("mean_input_per_request", completed == 0 ? 0 : (double) inputTokens / completed)
                .put("mean_output_per_request", completed == 0 ? 0 : (double) outputTokens / completed);
        latency(o.putObject("ttft_ms"), ttft);
        latency(o.putObject("tpot_ms"), tpot);
        latency(o.putObject("itl_ms"), itl);
        latency(o.putObject("e2e_ms"), e2e);
        o.putObject("goodput").put("slo_ttft_ms", config.slo().ttftMillis()).put("slo_tpot_ms", config.slo().tpotMillis())
                .put("requests", goodRequests).put("requests_per_s", goodputPerSecond())
                .put("fraction_of_completed", completed == 0 ? 0 : (double) goodRequests / completed);
        ObjectNode e = o.putObject("errors");
        errors.forEach((kind, count) -> e.putObject(kind).put("count", count.count()).put("example", count.example()));
        return o;
    }

    // No values (every request failed): null, since JSON has no NaN.
    private static void latency(ObjectNode o, Latency.Summary s) {
        o.put("count", s.count());
        String[] names = {"mean", "p50", "p90", "p99", "max"};
        double[] values = {s.meanMs(), s.p50Ms(), s.p90Ms(), s.p99Ms(), s.maxMs()};
        for (int i = 0; i < names.length; i++) {
            if (Double.isNaN(values[i])) {
                o.putNull(names[i]);
            } else {
                o.put(names[i], values[i]);
            }
        }
    }

    /** The readable table of one run. */
    public void print(PrintWriter out) {
        out.printf(Locale.ROOT, "%s, %s: %d sent, %d completed, %d failed in %.2f s%n", config.model(), config.load().label(), sent,
                completed, failed(), seconds);
        out.printf(Locale.ROOT, "tokens: %,d in (%.1f per request), %,d out (%.1f per request; server usage %,d, %d mismatched)%n",
                inputTokens, completed == 0 ? 0.0 : (double) inputTokens / completed, outputTokens,
                completed == 0 ? 0.0 : (double) outputTokens / completed, usageOutputTokens, usageMismatches);
        out.printf(Locale.ROOT, "throughput: %.2f requests/s, %.1f input tokens/s, %.1f output tokens/s%n", requestsPerSecond(),
                inputTokensPerSecond(), outputTokensPerSecond());
        out.printf(Locale.ROOT, "goodput: %.2f requests/s (%d of %d completed met TTFT <= %s ms and TPOT <= %s ms)%n", goodputPerSecond(),
                goodRequests, completed, number(config.slo().ttftMillis()), number(config.slo().tpotMillis()));
        out.println("| latency (ms) | mean | p50 | p90 | p99 | max | n |");
        out.println("|---|---:|---:|---:|---:|---:|---:|");
        row(out, "TTFT", ttft);
        row(out, "TPOT", tpot);
        row(out, "ITL", itl);
        row(out, "E2E", e2e);
        errors.forEach((kind, count) -> out.printf(Locale.ROOT, "errors: %d × %s (first: %s)%n", count.count(), kind, count.example()));
        out.flush();
    }

    private static void row(PrintWriter out, String name, Latency.Summary s) {
        out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d |%n", name, s.meanMs(), s.p50Ms(), s.p90Ms(), s.p99Ms(),
                s.maxMs(), s.count());
    }

    static String number(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
