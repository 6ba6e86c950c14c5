package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.grpc.proto.GenerateResponse;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Collects one generation into a single {@link GenerateResponse}. The reply leaves on the responses executor, never
 * on the scheduler's thread, and only once the handle's id is known (a fast engine may finish before submit returns).
 */
final class UnaryCollector implements GenerationListener {
    private final StreamObserver<GenerateResponse> call;
    private final Executor responses;
    private final boolean logprobs;
    private final CompletableFuture<String> id = new CompletableFuture<>();
    // Touched only by the scheduler's thread, which calls in order, until handed to the responses executor.
    private final StringBuilder text = new StringBuilder();
    private final GenerateResponse.Builder reply;

    UnaryCollector(StreamObserver<GenerateResponse> call, Executor responses, String model, boolean logprobs) {
        this.call = call;
        this.responses = responses;
        this.logprobs = logprobs;
        this.reply = GenerateResponse.newBuilder().setModel(model);
    }

    /** The generation was admitted under this id. */
    void attach(String handleId) {
        id.complete(handleId);
    }

    @Override
    public void onToken(TokenPiece piece) {
        text.append(piece.text());
        if (logprobs) {
            reply.addTokenIds(piece.tokenId()).addTokenLogprobs(piece.logprob());
        }
    }

    @Override
    public void onComplete(Completion completion) {
        text.append(GrpcMessages.remainingText(completion));
        reply.setText(text.toString())
                .setFinishReason(completion.reason().openAi())
                .setUsage(GrpcMessages.usage(completion.usage()));
        id.thenAcceptAsync(i -> {
            call.onNext(reply.setId(i).build());
            call.onCompleted();
        }, responses);
    }

    @Override
    public void onError(GenerationException error) {
        id.thenRunAsync(() -> call.onError(GrpcStatuses.of(error)), responses);
    }
}
