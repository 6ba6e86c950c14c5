package dev.switchback.server.grpc;

import static dev.switchback.server.grpc.GenerateTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.switchback.server.grpc.proto.GenerationGrpc;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ApiKeyTest {
    private final GrpcFixture grpc = new GrpcFixture(Duration.ZERO, GrpcServerConfig.defaults().withApiKey("sk-test-123"));

    @AfterEach
    void close() throws InterruptedException {
        grpc.close();
    }

    @Test
    void callsWithoutTheRightKeyAreUnauthenticated() {
        assertUnauthenticated(grpc.blocking());
        assertUnauthenticated(withAuthorization("Bearer sk-test-12"));
        assertUnauthenticated(withAuthorization("Basic sk-test-123"));
        assertUnauthenticated(withAuthorization("sk-test-123"));
    }

    @Test
    void callsWithTheKeyAreServed() {
        assertEquals("hi", withAuthorization("Bearer sk-test-123").generate(request("hi").build()).getText());
        assertEquals("hi", withAuthorization("bearer sk-test-123").generate(request("hi").build()).getText());
    }

    @Test
    void healthNeedsNoKey() {
        GrpcFixture.eventually(Duration.ofSeconds(2), () -> HealthTest.check(grpc, "") == ServingStatus.SERVING, "SERVING");
    }

    private GenerationGrpc.GenerationBlockingStub withAuthorization(String value) {
        Metadata headers = new Metadata();
        headers.put(ApiKeyInterceptor.AUTHORIZATION, value);
        return grpc.blocking().withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static void assertUnauthenticated(GenerationGrpc.GenerationBlockingStub stub) {
        Status s = assertThrows(StatusRuntimeException.class, () -> stub.generate(request("hi").build())).getStatus();
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
        assertEquals("missing or invalid API key: send 'authorization: Bearer KEY'", s.getDescription());
    }
}
