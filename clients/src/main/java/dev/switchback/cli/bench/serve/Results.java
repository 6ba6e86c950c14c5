package dev.switchback.cli.bench.serve;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes what a benchmark measured into its output folder: {@code results.json}, {@code latency-cdf.png} (TTFT,
 * TPOT and ITL distributions, one curve per run) and, for a sweep, {@code sweep.png} (throughput and latency
 * against concurrency).
 */
public final class Results {
    public static final String JSON_FILE = "results.json";
    public static final String CDF_PNG = "latency-cdf.png";
    public static final String SWEEP_PNG = "sweep.png";

    private Results() {}

    /**
     * Writes results.json and the plots; a Java runtime that cannot draw (no fonts, say) loses only the plots,
     * which the returned list then omits.
     *
     * @return the files written
     */
    public static List<Path> write(Path dir, List<BenchReport> runs, boolean sweep, PrintWriter warnings) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        ObjectNode root = BenchReport.JSON.createObjectNode();
        root.put("benchmark", sweep ? "sweep" : "serve").put("finished_at", Instant.now().toString());
        root.putObject("client").put("cores", Runtime.getRuntime().availableProcessors()).put("java", Runtime.version().toString());
        if (sweep) {
            ArrayNode levels = root.putArray("levels");
            runs.forEach(r -> levels.add(r.toJson()));
        } else {
            root.setAll(runs.getFirst().toJson());
        }
        Path json = dir.resolve(JSON_FILE);
        Path tmp = dir.resolve(JSON_FILE + ".tmp");
        BenchReport.JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
        Files.move(tmp, json, StandardCopyOption.REPLACE_EXISTING);
        written.add(json);
        try {
            LineChart.writePng(dir.resolve(CDF_PNG), 480, 360, cdfCharts(runs));
            written.add(dir.resolve(CDF_PNG));
            if (sweep) {
                LineChart.writePng(dir.resolve(SWEEP_PNG), 560, 400, sweepCharts(runs));
                written.add(dir.resolve(SWEEP_PNG));
            }
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError vm) {
                throw vm;
            }
            // Java2D without fonts or native libraries fails with assorted unchecked errors; the figures are in the JSON.
            warnings.println("warning: plots not drawn (" + e + "); " + JSON_FILE + " has every figure");
            warnings.flush();
        }
        return written;
    }

    private static List<LineChart> cdfCharts(List<BenchReport> runs) {
        LineChart ttft = cdf("TTFT", "time to first token (ms, log scale)", "fraction of requests");
        LineChart tpot = cdf("TPOT", "time per output token (ms, log scale)", "fraction of requests");
        LineChart itl = cdf("ITL", "inter-token latency (ms, log scale)", "fraction of token gaps");
        for (int i = 0; i < runs.size(); i++) {
            BenchReport r = runs.get(i);
            String name = r.config().load().label();
            ttft.add(new LineChart.Series(name, r.curves().ttft()[0], r.curves().ttft()[1], false, false), i);
            tpot.add(new LineChart.Series(name, r.curves().tpot()[0], r.curves().tpot()[1], false, false), i);
            itl.add(new LineChart.Series(name, r.curves().itl()[0], r.curves().itl()[1], false, false), i);
        }
        return List.of(ttft, tpot, itl);
    }

    private static LineChart cdf(String title, String xLabel, String yLabel) {
        return new LineChart(title, xLabel, yLabel, LineChart.XAxis.LOG10, LineChart.Legend.BOTTOM_RIGHT);
    }

    private static List<LineChart> sweepCharts(List<BenchReport> runs) {
        int n = runs.size();
        double[] c = new double[n];
        double[] tokens = new double[n];
        double[] requests = new double[n];
        double[][] latency = new double[6][n];
        for (int i = 0; i < n; i++) {
            BenchReport r = runs.get(i);
            c[i] = ((Load.Closed) r.config().load()).concurrency();
            tokens[i] = r.outputTokensPerSecond();
            requests[i] = r.requestsPerSecond();
            latency[0][i] = r.ttft().p50Ms();
            latency[1][i] = r.ttft().p99Ms();
            latency[2][i] = r.tpot().p50Ms();
            latency[3][i] = r.tpot().p99Ms();
            latency[4][i] = r.itl().p50Ms();
            latency[5][i] = r.itl().p99Ms();
        }
        LineChart throughput = new LineChart("Output throughput", "concurrent users", "output tokens/s", LineChart.XAxis.LOG2,
                LineChart.Legend.BOTTOM_RIGHT)
                .add(new LineChart.Series("output tokens/s", c, tokens, false, true), 0);
        LineChart rate = new LineChart("Request throughput", "concurrent users", "requests/s", LineChart.XAxis.LOG2,
                LineChart.Legend.BOTTOM_RIGHT)
                .add(new LineChart.Series("requests/s", c, requests, false, true), 2);
        LineChart ms = new LineChart("Latency", "concurrent users", "ms", LineChart.XAxis.LOG2, LineChart.Legend.TOP_LEFT);
        String[] names = {"TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50", "ITL p99"};
        for (int k = 0; k < names.length; k++) {
            ms.add(new LineChart.Series(names[k], c, latency[k], k % 2 == 1, true), k / 2);
        }
        return List.of(throughput, rate, ms);
    }

    /** The sweep's table: one row per concurrency. */
    public static void printSweep(PrintWriter out, List<BenchReport> runs) {
        BenchReport first = runs.getFirst();
        out.printf(Locale.ROOT, "%s: prompts of about %d tokens, up to %d output tokens; goodput SLO TTFT <= %s ms, TPOT <= %s ms%n",
                first.config().model(), first.config().promptTokens(), first.config().outputTokens(),
                BenchReport.number(first.config().slo().ttftMillis()), BenchReport.number(first.config().slo().tpotMillis()));
        out.println("| concurrency | requests | failed | req/s | output tok/s | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | ITL p50 | ITL p99 | goodput req/s |");
        out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (BenchReport r : runs) {
            out.printf(Locale.ROOT, "| %d | %d | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f |%n",
                    ((Load.Closed) r.config().load()).concurrency(), r.completed(), r.failed(), r.requestsPerSecond(),
                    r.outputTokensPerSecond(), r.ttft().p50Ms(), r.ttft().p99Ms(), r.tpot().p50Ms(), r.tpot().p99Ms(), r.itl().p50Ms(),
                    r.itl().p99Ms(), r.goodputPerSecond());
        }
        out.println("latencies in ms");
        out.flush();
    }
}
