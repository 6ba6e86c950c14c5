package dev.switchback.server.grpc;

import static dev.switchback.server.grpc.GrpcFixture.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.grpc.proto.GenerationGrpc;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HealthTest {
    @Test
    void notServingUntilTheGenerationServiceIsReady() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture(Duration.ZERO, GrpcServerConfig.defaults(), false)) {
            assertEquals(ServingStatus.NOT_SERVING, check(grpc, ""));
            assertEquals(ServingStatus.NOT_SERVING, check(grpc, GenerationGrpc.SERVICE_NAME));

            grpc.echo.ready(true);
            eventually(Duration.ofSeconds(2), () -> check(grpc, "") == ServingStatus.SERVING, "SERVING");
            assertEquals(ServingStatus.SERVING, check(grpc, GenerationGrpc.SERVICE_NAME));
        }
    }

    @Test
    void notServingFromTheStartOfShutdown() throws Exception {
        GrpcFixture grpc = new GrpcFixture(Duration.ZERO, GrpcServerConfig.defaults().withDrainDelay(Duration.ofSeconds(1)));
        eventually(Duration.ofSeconds(2), () -> check(grpc, "") == ServingStatus.SERVING, "SERVING");
        BlockingQueue<ServingStatus> watched = new LinkedBlockingQueue<>();
        HealthGrpc.newStub(grpc.channel).watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
            @Override
            public void onNext(HealthCheckResponse value) {
                watched.add(value.getStatus());
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
        });
        assertEquals(ServingStatus.SERVING, watched.poll(2, TimeUnit.SECONDS));

        long start = System.nanoTime();
        Thread closing = Thread.ofVirtual().start(grpc.server::close);
        assertEquals(ServingStatus.NOT_SERVING, watched.poll(2, TimeUnit.SECONDS), "watchers hear it at once");
        // During the drain delay new checks are still answered, and say so.
        assertEquals(ServingStatus.NOT_SERVING, check(grpc, ""));
        assertEquals(ServingStatus.NOT_SERVING, check(grpc, GenerationGrpc.SERVICE_NAME));
        closing.join(Duration.ofSeconds(10));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        // 1 s drain, then the open watch is ended rather than waited for through the 5 s grace.
        assertTrue(millis >= 1000 && millis < 3000, "close took " + millis + " ms");
        assertEquals(null, watched.poll(), "nothing after NOT_SERVING");
        grpc.close();
    }

    static ServingStatus check(GrpcFixture grpc, String service) {
        return HealthGrpc.newBlockingStub(grpc.channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }
}
