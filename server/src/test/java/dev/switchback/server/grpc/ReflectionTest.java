package dev.switchback.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What grpcurl asks: the service list, then the file that defines a service. */
class ReflectionTest {
    private final GrpcFixture grpc = new GrpcFixture();

    @AfterEach
    void close() throws InterruptedException {
        grpc.close();
    }

    @Test
    void listsTheGenerationHealthAndReflectionServices() throws Exception {
        ServerReflectionResponse r = ask(ServerReflectionRequest.newBuilder().setListServices("").build());
        List<String> services = r.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList();
        assertTrue(services.contains("switchback.v1.Generation"), services.toString());
        assertTrue(services.contains("grpc.health.v1.Health"), services.toString());
        assertTrue(services.contains("grpc.reflection.v1.ServerReflection"), services.toString());
    }

    @Test
    void describesTheGenerationService() throws Exception {
        ServerReflectionResponse r = ask(ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol("switchback.v1.Generation").build());
        FileDescriptorProto file = FileDescriptorProto.parseFrom(r.getFileDescriptorResponse().getFileDescriptorProto(0));
        assertEquals("switchback.v1", file.getPackage());
        ServiceDescriptorProto service = file.getServiceList().stream()
                .filter(s -> s.getName().equals("Generation")).findFirst().orElseThrow();
        assertEquals(List.of("Generate", "GenerateStream", "ListModels"),
                service.getMethodList().stream().map(m -> m.getName()).toList());
    }

    private ServerReflectionResponse ask(ServerReflectionRequest request) throws InterruptedException {
        BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(grpc.channel)
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
                        replies.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        replies.add(t);
                    }

                    @Override
                    public void onCompleted() {}
                });
        requests.onNext(request);
        Object reply = replies.poll(5, TimeUnit.SECONDS);
        requests.onCompleted();
        if (reply instanceof ServerReflectionResponse r) {
            return r;
        }
        throw new AssertionError("no reflection reply: " + reply);
    }
}
