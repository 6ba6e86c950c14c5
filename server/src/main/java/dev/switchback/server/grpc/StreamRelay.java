package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.grpc.proto.GenerateStreamResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Relays one generation to a server stream with gRPC flow control. The scheduler's thread only enqueues; one drain
 * at a time, on the responses executor, sends while the transport is ready and resumes from the call's on-ready
 * handler, so a slow client never blocks the scheduler. What waits is bounded by max_tokens.
 */
final class StreamRelay implements GenerationListener {
    private final ServerCallStreamObserver<GenerateStreamResponse> call;
    private final Executor responses;
    private final boolean logprobs;
    private final Queue<GenerateStreamResponse.Builder> pending = new ConcurrentLinkedQueue<>();
    // Drain requests not yet served: the thread that raises it from 0 runs the drain, the others only count.
    private final AtomicInteger drainRequests = new AtomicInteger();
    private volatile String id;
    private volatile boolean finished;
    private volatile StatusRuntimeException failure;
    private boolean closed; // drain only

    StreamRelay(ServerCallStreamObserver<GenerateStreamResponse> call, Executor responses, boolean logprobs) {
        this.call = call;
        this.responses = responses;
        this.logprobs = logprobs;
        call.setOnReadyHandler(this::drain);
    }

    /** The generation was admitted under this id; nothing is sent before, since every message carries it. */
    void attach(String handleId) {
        id = handleId;
        drain();
    }

    @Override
    public void onToken(TokenPiece piece) {
        boolean hasText = !piece.text().isEmpty();
        if (!hasText && !logprobs) {
            return; // a held-back piece says nothing to a client that did not ask for tokens
        }
        GenerateStreamResponse.Builder message = GenerateStreamResponse.newBuilder().setText(piece.text());
        if (logprobs) {
            message.addTokenIds(piece.tokenId()).addTokenLogprobs(piece.logprob());
        }
        pending.add(message);
        drain();
    }

    @Override
    public void onComplete(Completion completion) {
        pending.add(GenerateStreamResponse.newBuilder()
                .setText(GrpcMessages.remainingText(completion))
                .setFinishReason(completion.reason().openAi())
                .setUsage(GrpcMessages.usage(completion.usage())));
        finished = true;
        drain();
    }

    @Override
    public void onError(GenerationException error) {
        failure = GrpcStatuses.of(error);
        drain();
    }

    private void drain() {
        if (drainRequests.getAndIncrement() == 0) {
            responses.execute(this::drainLoop);
        }
    }

    private void drainLoop() {
        int served;
        do {
            served = drainRequests.get();
            if (id != null) {
                send();
            }
        } while (drainRequests.addAndGet(-served) != 0);
    }

    private void send() {
        if (closed) {
            return;
        }
        if (call.isCancelled()) {
            closed = true; // the cancel handler has stopped the generation; drop what it left
            pending.clear();
            return;
        }
        // Read the end flags before the queue: each is set after its messages are enqueued, so when they are seen
        // here every message they close is already in the queue; a later end raises another drain request.
        boolean done = finished;
        StatusRuntimeException failed = failure;
        while (call.isReady()) {
            GenerateStreamResponse.Builder message = pending.poll();
            if (message == null) {
                break;
            }
            call.onNext(message.setId(id).build());
        }
        if (!pending.isEmpty()) {
            return; // the on-ready handler drains again
        }
        if (failed != null) {
            closed = true;
            call.onError(failed);
        } else if (done) {
            closed = true;
            call.onCompleted();
        }
    }
}
