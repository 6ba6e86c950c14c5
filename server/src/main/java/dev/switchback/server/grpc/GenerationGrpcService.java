package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.generation.GenerationService.Handle;
import dev.switchback.server.grpc.proto.GenerateRequest;
import dev.switchback.server.grpc.proto.GenerateResponse;
import dev.switchback.server.grpc.proto.GenerateStreamResponse;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import dev.switchback.server.grpc.proto.ListModelsRequest;
import dev.switchback.server.grpc.proto.ListModelsResponse;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/** The {@code switchback.v1.Generation} gRPC service over a {@link GenerationService}: protocol mapping only. */
public final class GenerationGrpcService extends GenerationGrpc.GenerationImplBase {
    private final GenerationService service;
    private final Executor responses;

    /** @param responses runs the sends that generations' output triggers, keeping them off the scheduler's thread */
    public GenerationGrpcService(GenerationService service, Executor responses) {
        this.service = Objects.requireNonNull(service, "service");
        Objects.requireNonNull(responses, "responses");
        this.responses = task -> {
            try {
                responses.execute(task);
            } catch (RejectedExecutionException e) {
                // Only a generation outliving its stopped server gets here, and its call is already closed;
                // throwing would land on the scheduler's thread.
            }
        };
    }

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> responseObserver) {
        var call = (ServerCallStreamObserver<GenerateResponse>) responseObserver;
        CallCancellation cancellation = new CallCancellation();
        call.setOnCancelHandler(cancellation::cancel);
        UnaryCollector collector = new UnaryCollector(call, responses, request.getModel(), request.getLogprobs());
        start(request, collector, collector::attach, cancellation, call);
    }

    @Override
    public void generateStream(GenerateRequest request, StreamObserver<GenerateStreamResponse> responseObserver) {
        var call = (ServerCallStreamObserver<GenerateStreamResponse>) responseObserver;
        CallCancellation cancellation = new CallCancellation();
        call.setOnCancelHandler(cancellation::cancel);
        StreamRelay relay = new StreamRelay(call, responses, request.getLogprobs());
        start(request, relay, relay::attach, cancellation, call);
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> responseObserver) {
        ListModelsResponse.Builder reply = ListModelsResponse.newBuilder();
        try {
            service.models().forEach(card -> reply.addModels(GrpcMessages.card(card)));
        } catch (RuntimeException e) {
            responseObserver.onError(GrpcStatuses.of(e));
            return;
        }
        responseObserver.onNext(reply.build());
        responseObserver.onCompleted();
    }

    private void start(GenerateRequest request, GenerationListener listener, Consumer<String> attach,
            CallCancellation cancellation, StreamObserver<?> call) {
        Handle handle;
        try {
            GenerationRequest generation = GrpcRequests.toGeneration(request, Context.current().getDeadline());
            handle = service.submit(generation, listener);
        } catch (RuntimeException e) {
            // Refused at submission: the listener hears nothing, so this is the call's only close.
            call.onError(GrpcStatuses.of(e));
            return;
        }
        attach.accept(handle.id());
        cancellation.attach(handle);
    }
}
