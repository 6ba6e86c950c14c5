package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.client.OpenAiFixture;
import dev.switchback.server.grpc.GrpcFixture;
import dev.switchback.server.grpc.GrpcServerConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CompleteCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void printsTheCompletion() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            assertEquals(0, run("complete", "--url", grpcUrl(grpc), "--model", "echo", "--prompt", "hello world",
                    "--max-tokens", "5", "--temperature", "0"));
            assertEquals("hello\n", out());
            assertEquals(0.0, grpc.echo.requests().getLast().sampling().temperature());
        }
    }

    @Test
    void streamsOverGrpcWithTheServersFirstModelByDefault() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            assertEquals(0, run("complete", "--url", grpcUrl(grpc), "--prompt", "hello", "--stream"));
            assertEquals("hello\n", out());
            assertEquals("echo", grpc.echo.requests().getLast().model());
        }
    }

    @Test
    void sendsTheApiKey() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture(Duration.ZERO, GrpcServerConfig.defaults().withApiKey("k3"))) {
            assertEquals(1, run("complete", "--url", grpcUrl(grpc), "--model", "echo", "--prompt", "hi"));
            assertEquals("error: 401 UNAUTHENTICATED: missing or invalid API key: send 'authorization: Bearer KEY'\n", err());
            out.reset();
            err.reset();
            assertEquals(0, run("complete", "--url", grpcUrl(grpc), "--model", "echo", "--prompt", "hi", "--api-key", "k3"));
            assertEquals("hi\n", out());
        }
    }

    /** Pieces reach the terminal as they arrive: the first is printed while the server still holds the rest. */
    @Test
    void streamsPiecesAsTheyArriveOverHttp() throws Exception {
        try (OpenAiFixture http = new OpenAiFixture()) {
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> run("complete", "--url", http.url(),
                    "--model", "gated", "--prompt", "hi", "--stream"));
            GrpcFixture.eventually(Duration.ofSeconds(5), () -> out().equals("Hello"), "the first piece printed alone");
            http.release();
            assertEquals(0, exit.get(10, TimeUnit.SECONDS));
            assertEquals("Hello again\n", out());
        }
    }

    @Test
    void aClientErrorIsOneLineWithTheServersMessage() {
        try (OpenAiFixture http = new OpenAiFixture()) {
            assertEquals(1, run("complete", "--url", http.url(), "--model", "missing", "--prompt", "hi"));
            assertEquals("error: 404 invalid_request_error: The model 'missing' does not exist\n", err());
            assertEquals("", out());
        }
    }

    @Test
    void anUnreachableUrlIsOneClearLine() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        for (String scheme : new String[] {"http", "grpc"}) {
            err.reset();
            assertEquals(1, run("complete", "--url", scheme + "://127.0.0.1:" + port, "--model", "m", "--prompt", "hi"));
            assertTrue(err().startsWith("error: cannot connect to " + scheme + "://127.0.0.1:" + port), err());
            assertEquals(1, err().lines().count(), err());
        }
    }

    @Test
    void aBadUrlIsAUsageError() {
        assertEquals(2, run("complete", "--url", "localhost:8080", "--prompt", "hi"));
        assertTrue(err().startsWith("error: url must start with http://, https://, grpc:// or grpcs://"), err());
    }

    private static String grpcUrl(GrpcFixture grpc) {
        return "grpc://127.0.0.1:" + grpc.port;
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }

    private int run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
