package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.ModelStore;
import dev.switchback.store.TinyModels;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code switchback bench serve} and {@code bench sweep} against a real server (the serve command, engine and
 * scheduler on loopback, a tiny random-weight model): the report must agree with the server's usage counts and
 * with itself, and bad input must fail at once with one line.
 */
class ServeBenchCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path CORPUS = Path.of(System.getProperty("switchback.shared", "../../shared"), "corpus", "kjv.txt.gz");

    @TempDir
    static Path store;

    @TempDir
    Path out;

    private static ServeCommand serve;
    private static Thread serving;
    private static String url;

    private final StringWriter stdout = new StringWriter();
    private final StringWriter stderr = new StringWriter();

    @BeforeAll
    static void start() throws Exception {
        TinyModels.publishServable(new ModelStore(store), "tiny", 5);
        serve = new ServeCommand();
        CommandLine cli = new CommandLine(serve);
        serving = new Thread(() -> cli.execute("--store", store.toString(), "--host", "127.0.0.1", "--port", "0", "--grpc-port", "-1"));
        serving.start();
        assertTrue(serve.up.await(60, TimeUnit.SECONDS), "server did not come up");
        url = "http://127.0.0.1:" + serve.server.port("http");
    }

    @AfterAll
    static void stop() throws Exception {
        serve.stop.countDown();
        serving.join(30_000);
    }

    @Test
    void aClosedLoadReportsWhatTheServerCounted() throws Exception {
        Path dir = out.resolve("closed");
        assertEquals(0, bench("serve", "--concurrency", "4", "--requests", "24", "--output-len", "16", "--temperature", "0.8",
                "--output-dir", dir.toString()), stderr.toString());
        JsonNode r = JSON.readTree(dir.resolve("results.json").toFile());
        assertEquals("concurrency 4", r.path("config").path("load").asText());
        assertEquals(24, r.path("requests").path("sent").asInt());
        assertEquals(24, r.path("requests").path("completed").asInt());
        assertEquals(0, r.path("requests").path("failed").asInt());
        assertEquals(0, r.path("errors").size());
        JsonNode tokens = r.path("tokens");
        long counted = tokens.path("output_counted").asLong();
        assertEquals(tokens.path("output_usage").asLong(), counted, "tokens counted from the stream = the server's usage");
        assertEquals(0, tokens.path("usage_mismatches").asInt());
        assertTrue(counted >= 24 && counted <= 24 * 16, "between 1 and --output-len tokens a request: " + counted);
        assertTrue(tokens.path("input").asLong() >= 24, "usage.prompt_tokens summed");
        // One gap between consecutive tokens of each request; one TPOT per request of two tokens or more.
        assertEquals(counted - 24, r.path("itl_ms").path("count").asLong());
        assertTrue(r.path("tpot_ms").path("count").asLong() <= 24);
        assertEquals(24, r.path("ttft_ms").path("count").asLong());
        for (String metric : List.of("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")) {
            assertOrdered(metric, r.path(metric));
        }
        assertTrue(r.path("ttft_ms").path("max").asDouble() <= r.path("e2e_ms").path("max").asDouble(), "first token before the end");
        double seconds = r.path("duration_s").asDouble();
        assertEquals(24 / seconds, r.path("throughput").path("requests_per_s").asDouble(), 1e-9);
        assertEquals(counted / seconds, r.path("throughput").path("output_tokens_per_s").asDouble(), 1e-9);
        int good = r.path("goodput").path("requests").asInt();
        assertTrue(good >= 0 && good <= 24);
        assertEquals(good / seconds, r.path("goodput").path("requests_per_s").asDouble(), 1e-9);
        assertDecodes(dir.resolve("latency-cdf.png"));
        String table = stdout.toString();
        assertTrue(table.contains("| TTFT |") && table.contains("| ITL |") && table.contains("24 completed, 0 failed"), table);
    }

    /** Constant arrivals 0.2 s apart under a 1 s time cap: exactly 5 requests, whatever the request cap. */
    @Test
    void anOpenLoadStopsAtItsTimeCap() throws Exception {
        Path dir = out.resolve("open");
        long t0 = System.nanoTime();
        assertEquals(0, bench("serve", "--rate", "5", "--arrivals", "constant", "--requests", "100000", "--duration-s", "1",
                "--output-len", "4", "--output-dir", dir.toString()), stderr.toString());
        JsonNode r = JSON.readTree(dir.resolve("results.json").toFile());
        assertEquals(5, r.path("requests").path("sent").asInt());
        assertEquals(5, r.path("requests").path("completed").asInt());
        assertTrue(r.path("duration_s").asDouble() >= 0.8, "the 5th request goes out 0.8 s after the first");
        assertTrue((System.nanoTime() - t0) / 1e9 < 30, "the run stopped by itself");
    }

    @Test
    void aSweepRunsEveryLevelAndPlotsThem() throws Exception {
        Path dir = out.resolve("sweep");
        assertEquals(0, bench("sweep", "--concurrency", "1,2", "--requests-per-level", "4", "--output-len", "8", "--output-dir",
                dir.toString()), stderr.toString());
        JsonNode r = JSON.readTree(dir.resolve("results.json").toFile());
        assertEquals("sweep", r.path("benchmark").asText());
        assertEquals(2, r.path("levels").size());
        for (int i = 0; i < 2; i++) {
            JsonNode level = r.path("levels").path(i);
            assertEquals(i + 1, level.path("config").path("concurrency").asInt());
            assertEquals(4, level.path("requests").path("completed").asInt());
            assertEquals(level.path("tokens").path("output_usage").asLong(), level.path("tokens").path("output_counted").asLong());
        }
        assertDecodes(dir.resolve("sweep.png"));
        assertDecodes(dir.resolve("latency-cdf.png"));
        assertTrue(stdout.toString().contains("| 2 | 4 | 0 |"), stdout.toString());
    }

    @Test
    void anUnreachableServerIsOneLine() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        assertOneLineError("cannot reach a switchback server at http://127.0.0.1:" + port,
                "serve", "--url", "http://127.0.0.1:" + port, "--model", "tiny");
    }

    @Test
    void anUnknownModelIsOneLine() {
        assertOneLineError("model 'nope' is not served at " + url + " (it serves: tiny)", "serve", "--url", url, "--model", "nope");
    }

    @Test
    void badLoadsAreRefusedAtOnce() {
        assertOneLineError("--rate must be a number > 0", "serve", "--url", url, "--model", "tiny", "--rate", "0");
        assertOneLineError("--rate must be a number > 0", "serve", "--url", url, "--model", "tiny", "--rate", "-2");
        assertOneLineError("--concurrency must be >= 1, got 0", "serve", "--url", url, "--model", "tiny", "--concurrency", "0");
        assertOneLineError("--concurrency must be >= 1, got -1", "sweep", "--url", url, "--model", "tiny", "--concurrency", "1,-1");
        assertOneLineError("give --rate R (open load) or --concurrency C (closed load), not both",
                "serve", "--url", url, "--model", "tiny", "--rate", "1", "--concurrency", "2");
        assertOneLineError("--requests must be >= 1", "serve", "--url", url, "--model", "tiny", "--requests", "0");
    }

    @Test
    void aHostOffLoopbackIsRefused() {
        assertOneLineError("--url must be on loopback", "serve", "--url", "http://10.1.2.3:8080", "--model", "tiny");
        assertOneLineError("--url must be http://HOST:PORT on loopback", "sweep", "--url", "localhost:8080", "--model", "tiny");
    }

    private void assertOneLineError(String expected, String... args) {
        stderr.getBuffer().setLength(0);
        long t0 = System.nanoTime();
        int exit = bench(args);
        String err = stderr.toString().replace(System.lineSeparator(), "\n");
        assertEquals(2, exit, err);
        assertTrue(err.startsWith("error: " + expected), err);
        assertEquals(1, err.lines().count(), err);
        assertTrue((System.nanoTime() - t0) / 1e9 < 10, "refused at once");
    }

    private int bench(String... args) {
        String[] full = new String[args.length + 1];
        full[0] = "bench";
        System.arraycopy(args, 0, full, 1, args.length);
        List<String> withDefaults = new java.util.ArrayList<>(List.of(full));
        if (!withDefaults.contains("--url")) {
            withDefaults.addAll(List.of("--url", url, "--model", "tiny"));
        }
        withDefaults.addAll(List.of("--corpus", CORPUS.toString(), "--prompt-len", "12"));
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(new Main.UserErrors());
        cli.setOut(new PrintWriter(stdout, true));
        cli.setErr(new PrintWriter(stderr, true));
        return cli.execute(withDefaults.toArray(String[]::new));
    }

    private static void assertOrdered(String metric, JsonNode s) {
        double p50 = s.path("p50").asDouble();
        double p90 = s.path("p90").asDouble();
        double p99 = s.path("p99").asDouble();
        double max = s.path("max").asDouble();
        double mean = s.path("mean").asDouble();
        assertTrue(0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max, metric + ": " + s);
        assertTrue(mean <= max, metric + ": " + s);
    }

    private static void assertDecodes(Path png) throws Exception {
        assertTrue(Files.size(png) > 1000, png + " is written");
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, png + " decodes as an image");
        assertTrue(image.getWidth() >= 400 && image.getHeight() >= 300, png + " has a chart's size");
    }
}
