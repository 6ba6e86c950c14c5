package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A {@code switchback shard-worker} in a JVM of its own on a free loopback port, for GPU tests; its output goes to a
 * file (so it never blocks on a full pipe) and is printed when it is stopped.
 */
final class ShardWorkerProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final String target;

    private ShardWorkerProcess(Process process, Path log, String target) {
        this.process = process;
        this.log = log;
        this.target = target;
    }

    /** Starts a worker and waits (up to two minutes) until it listens. */
    static ShardWorkerProcess start(Path dir) throws IOException, InterruptedException {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("switchback.child.classpath", System.getProperty("java.class.path"));
        Path log = dir.resolve("worker-" + port + ".log");
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", classPath, "dev.switchback.cli.Main", "shard-worker", "--listen", "127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ShardWorkerProcess worker = new ShardWorkerProcess(p, log, "127.0.0.1:" + port);
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!Files.readString(log).contains("shard worker listening on") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        if (!Files.readString(log).contains("shard worker listening on " + worker.target)) {
            worker.close();
            assertTrue(false, "the shard worker did not start: " + Files.readString(log));
        }
        return worker;
    }

    /** {@code 127.0.0.1:PORT}. */
    String target() {
        return target;
    }

    /** Kills the worker at once (as a crash would) and waits until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        process.destroy();
        process.waitFor();
        System.out.println("shard worker's output:\n" + Files.readString(log));
    }
}
