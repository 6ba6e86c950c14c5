package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Builds the distribution from the packaged jars (so it runs in the integration-test phase, after package), unpacks
 * it, and runs it as a machine without a JDK would: PATH holds no java and JAVA_HOME is unset.
 */
class DistributionIT {
    private static final Path HOME = Path.of(System.getProperty("switchback.home", "..")).toAbsolutePath().normalize();
    private static final Path BUNDLED = HOME.resolve(Defaults.BUNDLED_STORE);
    private static final String PROMPT = "In the beginning God created";

    @TempDir
    static Path tmp;

    private static Distribution.Result built;
    private static String buildLog;
    private static Path home;
    private static Path tools;

    @BeforeAll
    static void buildAndUnpack() throws Exception {
        StringWriter log = new StringWriter();
        built = Distribution.build(new Distribution.Options(Path.of("target"), BUNDLED, tmp.resolve("out"), false),
                new PrintWriter(log, true));
        buildLog = log.toString();
        Path unpacked = Files.createDirectories(tmp.resolve("unpacked"));
        Process tar = new ProcessBuilder("tar", "-xzf", built.tarball().toString(), "-C", unpacked.toString())
                .redirectErrorStream(true).start();
        assertEquals(0, tar.waitFor(), new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        home = unpacked.resolve("switchback-" + built.version());
        // The launcher's only tools; no java anywhere on this PATH.
        tools = Files.createDirectories(tmp.resolve("tools"));
        for (String tool : List.of("bash", "dirname", "readlink")) {
            Files.createSymbolicLink(tools.resolve(tool), Path.of("/usr/bin", tool));
        }
    }

    @Test
    void tarballIsNamedSizedAndLaidOutAsDocumented() throws IOException {
        assertEquals("switchback-" + built.version() + "-linux-x64.tar.gz", built.tarball().getFileName().toString());
        assertEquals(Files.size(built.tarball()), built.bytes());
        assertTrue(buildLog.contains("[1/4] jlink") && buildLog.contains("wrote " + built.tarball().toAbsolutePath()), buildLog);
        assertTrue(Files.isExecutable(home.resolve("bin/switchback")));
        assertTrue(Files.isExecutable(home.resolve("runtime/bin/java")));
        assertFalse(Files.exists(home.resolve("runtime/bin/javac")), "a runtime, not a JDK");
        assertTrue(Files.isRegularFile(home.resolve("lib/" + Distribution.CLI_JAR)));
        try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
            List<String> names = jars.map(p -> p.getFileName().toString()).toList();
            assertTrue(names.stream().noneMatch(Distribution::trainingOnly), "no PyTorch native library by default: " + names);
            assertTrue(names.contains("netty-codec-http2-4.2.7.Final.jar") && names.stream().anyMatch(n -> n.startsWith("grpc-netty")), names.toString());
        }
        assertTrue(Files.isRegularFile(home.resolve(Defaults.BUNDLED_STORE).resolve("switch-kjv/1/model.safetensors")));
        String release = Files.readString(home.resolve("runtime/release"));
        for (String module : Distribution.MODULES) {
            assertTrue(release.contains(module), module + " in " + release);
        }
        assertFalse(release.contains("jdk.jlink"), release);
        // ONNX Runtime's jar (75 MB: its native library for every platform) is in; PyTorch's (106 MB) is not.
        assertTrue(built.bytes() < 170L << 20, "without the PyTorch library the tarball stays under 170 MiB: " + built.bytes() + " bytes");
        // Both launchers pass the project's JVM flags.
        assertTrue(Files.readString(home.resolve("bin/switchback")).contains(Distribution.JVM_FLAGS));
        assertTrue(Files.readString(HOME.resolve("switchback")).replace("\\\n", " ").replaceAll("[ \t]+", " ")
                .contains(Distribution.JVM_FLAGS));
    }

    @Test
    void versionRunsOnTheBundledRuntimeThroughALinkOnPath() throws Exception {
        Files.createSymbolicLink(tools.resolve("switchback"), home.resolve("bin/switchback"));
        Result r = run(tmp, tools.resolve("switchback").toString(), "--version");
        assertEquals(0, r.code(), r.output());
        assertEquals("switchback " + built.version() + " (Java " + Runtime.version() + ")", r.output().strip());
        assertTrue(built.version().matches("\\d+\\.\\d+\\.\\d+.*"), built.version());
    }

    @Test
    void verifiesAndGeneratesWithTheBundledModelWhenThereIsNoStore() throws Exception {
        Result verify = run(tmp, home.resolve("bin/switchback").toString(), "models", "verify");
        assertEquals(0, verify.code(), verify.output());
        Path model = home.resolve(Defaults.BUNDLED_STORE).resolve("switch-kjv/1");
        assertTrue(verify.output().contains("has no models; using the bundled store " + home.resolve(Defaults.BUNDLED_STORE)),
                verify.output());
        assertTrue(verify.output().contains("OK      " + model), verify.output());

        Result generated = run(tmp, home.resolve("bin/switchback").toString(), "generate", "--model", "switch-kjv",
                "--prompt", PROMPT, "--max-tokens", "16", "--temperature", "0");
        assertEquals(0, generated.code(), generated.output());
        // The same greedy text as this JVM computes from the checkout's copy of the model.
        TokenizerCommandTest.Run here = TokenizerCommandTest.run("generate", "--store", BUNDLED.toString(), "--model",
                "switch-kjv", "--prompt", PROMPT, "--max-tokens", "16", "--temperature", "0");
        assertEquals(0, here.exitCode(), here.err());
        assertEquals(text(here.out()), text(generated.output().substring(generated.output().indexOf(PROMPT))));
    }

    @Test
    void servesTheBundledModelOverHttp() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/switchback").toString(), "serve", "--host", "127.0.0.1",
                "--port", "0", "--grpc-port", "0", "--kv-cache-mb", "16").directory(tmp.toFile()).redirectErrorStream(true);
        isolate(pb.environment());
        Process server = pb.start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException closed) {
                // the server went away; the assertions below say what was seen
            }
        });
        try {
            List<String> seen = new ArrayList<>();
            Matcher serving = null;
            while (serving == null) {
                String line = lines.poll(60, TimeUnit.SECONDS);
                assertTrue(line != null, "no 'serving' line within 60 s: " + seen);
                seen.add(line);
                Matcher m = Pattern.compile("serving 1 model\\(s\\): http://127\\.0\\.0\\.1:(\\d+)/v1 and grpc://.*").matcher(line);
                serving = m.matches() ? m : null;
            }
            assertTrue(seen.stream().anyMatch(l -> l.startsWith("loading switch-kjv from " + home.resolve(Defaults.BUNDLED_STORE))), seen.toString());
            String body = """
                    {"model": "switch-kjv", "messages": [{"role": "user", "content": "In the beginning God created the heaven and the earth."}],
                     "max_tokens": 12, "temperature": 0}""";
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + serving.group(1) + "/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            JsonNode json = new ObjectMapper().readTree(response.body());
            assertEquals("chat.completion", json.path("object").asText(), response.body());
            assertFalse(json.path("choices").path(0).path("message").path("content").asText().isBlank(), response.body());
        } finally {
            server.destroy(); // SIGTERM: the shutdown hook drains and stops
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    @Test
    void distFromTheDistributionSaysItNeedsAJdk() throws Exception {
        Result r = run(tmp, home.resolve("bin/switchback").toString(), "dist");
        assertEquals(2, r.code(), r.output());
        assertEquals("error: jlink not found in the Java runtime at " + home.resolve("runtime")
                + "; run dist with a full JDK 25, e.g. JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 ./switchback dist",
                r.output().strip());
    }

    private record Result(int code, String output) {}

    private static Result run(Path dir, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        isolate(pb.environment());
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "still running: " + String.join(" ", command));
        return new Result(p.exitValue(), output.replace("WARNING: Using incubator modules: jdk.incubator.vector\n", ""));
    }

    /** No JDK in sight: PATH has only the launcher's tools, JAVA_HOME is unset, no store is configured. */
    private static void isolate(Map<String, String> env) {
        env.remove("JAVA_HOME");
        env.remove("SWITCHBACK_STORE");
        env.remove("JAVA_TOOL_OPTIONS");
        env.put("PATH", tools.toString());
    }

    /** The generated text, without generate's closing summary line. */
    private static String text(String output) {
        return output.substring(0, output.lastIndexOf("\n["));
    }
}
