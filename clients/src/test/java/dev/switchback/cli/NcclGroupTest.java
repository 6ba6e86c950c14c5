package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * An NCCL group whose two ranks are separate JVMs, each driving one GPU, bootstrapped over the gRPC rendezvous (what
 * ranks on different hosts do): both processes check every element of an all-gather and a reduce-scatter with uneven and
 * even parts. Runs only where two CUDA devices and NCCL are found (tag {@code gpu}); the child JVMs take the class path
 * from {@code switchback.child.classpath} when the test runner's own class path is not the application's.
 */
@Tag("gpu")
class NcclGroupTest {
    @Test
    void twoProcessesBootstrappedOverGrpcExchangeCorrectly() throws Exception {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        // Rank 1 first: it must wait for rank 0's rendezvous to come up.
        List<Process> ranks = new ArrayList<>();
        for (int rank : new int[] {1, 0}) {
            ranks.add(rank(rank, port));
            Thread.sleep(rank == 1 ? 1000 : 0);
        }
        for (int i = 0; i < ranks.size(); i++) {
            Process p = ranks.get(i);
            int rank = i == 0 ? 1 : 0;
            boolean done = p.waitFor(240, TimeUnit.SECONDS);
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!done) {
                ranks.forEach(Process::destroyForcibly);
            }
            assertTrue(done, "rank " + rank + " did not finish: " + output);
            assertEquals(0, p.exitValue(), "rank " + rank + ": " + output);
            assertTrue(output.contains("rank " + rank + " of 2 on cuda:" + rank), output);
            assertTrue(output.contains("all-gather and reduce-scatter checked (uneven and even parts)"), output);
        }
    }

    private static Process rank(int rank, int port) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("switchback.child.classpath", System.getProperty("java.class.path"));
        return new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", classPath, "dev.switchback.cli.Main", "bench", "nccl-group", "--rendezvous", "127.0.0.1:" + port,
                "--world", "2", "--rank", String.valueOf(rank), "--gpu", String.valueOf(rank), "--sizes", "32,512", "--iters", "50",
                "--timeout", "120")
                .redirectErrorStream(true)
                .start();
    }
}
