package dev.switchback.server.grpc;

import static org.junit.jupiter.api.Assertions.fail;

import dev.switchback.server.generation.EchoGenerationService;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** A real Netty gRPC server on a loopback port over an {@link EchoGenerationService}, and a channel to it. */
public final class GrpcFixture implements AutoCloseable {
    public final EchoGenerationService echo;
    public final GrpcServer server;
    public final int port;
    public final ManagedChannel channel;

    public GrpcFixture(Duration tokenDelay, GrpcServerConfig config) {
        this(tokenDelay, config, true);
    }

    /** @param ready whether the service reports its models loaded when the server starts */
    public GrpcFixture(Duration tokenDelay, GrpcServerConfig config, boolean ready) {
        echo = new EchoGenerationService(tokenDelay);
        echo.ready(ready);
        server = new GrpcServer(echo, config.withHost("127.0.0.1"));
        try {
            port = server.start(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create()).build();
    }

    public GrpcFixture() {
        this(Duration.ZERO, GrpcServerConfig.defaults());
    }

    public GenerationGrpc.GenerationBlockingStub blocking() {
        return GenerationGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    /** Waits up to {@code within} for {@code condition}, failing with {@code what} if it never holds. */
    public static void eventually(Duration within, BooleanSupplier condition, String what) {
        long end = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                fail("not within " + within + ": " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting for: " + what);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
        echo.close();
    }
}
