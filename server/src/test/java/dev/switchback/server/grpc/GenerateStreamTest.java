package dev.switchback.server.grpc;

import static dev.switchback.server.grpc.GenerateTest.request;
import static dev.switchback.server.grpc.GrpcFixture.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.grpc.proto.GenerateResponse;
import dev.switchback.server.grpc.proto.GenerateStreamResponse;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GenerateStreamTest {
    @Test
    void sendsOneMessagePerPieceThenTheFinishReasonAndUsage() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            List<GenerateStreamResponse> messages = new ArrayList<>();
            grpc.blocking().generateStream(request("abc").build()).forEachRemaining(messages::add);

            // "c" is held back by the engine: its piece has no text, so without logprobs it is not sent.
            assertEquals(List.of("a", "b", "c"), messages.stream().map(GenerateStreamResponse::getText).toList());
            assertEquals(List.of("", "", "stop"), messages.stream().map(GenerateStreamResponse::getFinishReason).toList());
            GenerateStreamResponse last = messages.getLast();
            assertEquals(3, last.getUsage().getPromptTokens());
            assertEquals(3, last.getUsage().getCompletionTokens());
            assertEquals(6, last.getUsage().getTotalTokens());
            assertFalse(messages.getFirst().hasUsage(), "usage only on the last message");
            String id = messages.getFirst().getId();
            assertTrue(id.startsWith("cmpl-echo-"), id);
            assertTrue(messages.stream().allMatch(m -> m.getId().equals(id)), "one id for the whole stream");
        }
    }

    @Test
    void withLogprobsEveryTokenIsSentEvenWithoutText() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            List<GenerateStreamResponse> messages = new ArrayList<>();
            grpc.blocking().generateStream(request("abc").setLogprobs(true).build()).forEachRemaining(messages::add);

            assertEquals(List.of("a", "b", "", "c"), messages.stream().map(GenerateStreamResponse::getText).toList());
            assertEquals(List.of((int) 'a', (int) 'b', (int) 'c'),
                    messages.stream().flatMap(m -> m.getTokenIdsList().stream()).toList());
            assertEquals(List.of(-0.5f, -0.5f, -0.5f),
                    messages.stream().flatMap(m -> m.getTokenLogprobsList().stream()).toList());
            assertEquals("stop", messages.getLast().getFinishReason());
        }
    }

    @Test
    void lengthFinishOnTheLastMessage() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            List<GenerateStreamResponse> messages = new ArrayList<>();
            grpc.blocking().generateStream(request("abcdef").setMaxTokens(4).build()).forEachRemaining(messages::add);

            assertEquals("abcd", String.join("", messages.stream().map(GenerateStreamResponse::getText).toList()));
            assertEquals("length", messages.getLast().getFinishReason());
            assertEquals(4, messages.getLast().getUsage().getCompletionTokens());
        }
    }

    @Test
    void cancellingTheStreamCancelsTheGenerationAtOnce() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture(Duration.ofMillis(20), GrpcServerConfig.defaults())) {
            Context.CancellableContext context = Context.current().withCancellation();
            String id = context.call(() -> {
                Iterator<GenerateStreamResponse> stream =
                        grpc.blocking().generateStream(request("x".repeat(500)).setMaxTokens(500).build());
                return stream.next().getId();
            });
            assertTrue(grpc.echo.cancelled().isEmpty());

            long start = System.nanoTime();
            context.cancel(null);
            eventually(Duration.ofSeconds(2), () -> grpc.echo.cancelled().contains(id), "Handle.cancel() of " + id);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(millis < 1000, "cancel took " + millis + " ms");
            assertTrue(grpc.echo.ended().isEmpty(), "the generation never ran to its end");
        }
    }

    @Test
    void cancellingAUnaryCallCancelsTheGeneration() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture(Duration.ofMillis(20), GrpcServerConfig.defaults())) {
            var future = GenerationGrpc.newFutureStub(grpc.channel)
                    .generate(request("x".repeat(500)).setMaxTokens(500).build());
            eventually(Duration.ofSeconds(2), () -> !grpc.echo.requests().isEmpty(), "the request reached the engine");
            future.cancel(true);
            eventually(Duration.ofSeconds(2), () -> grpc.echo.cancelled().size() == 1, "Handle.cancel() recorded");
        }
    }

    /**
     * A client that reads nothing must not hold up the scheduler: the generation runs to its end while the client
     * has read one message, and the queued messages all arrive, in order, once it reads. The stream (~600 KB) is ten
     * times the client's fixed 64 KiB flow-control window, so the relay does find the call not ready and waits for
     * on-ready.
     */
    @Test
    void aSlowReaderNeitherBlocksTheSchedulerNorLosesMessages() throws Exception {
        try (GrpcFixture grpc = new GrpcFixture()) {
            ManagedChannel smallWindow = NettyChannelBuilder.forAddress("127.0.0.1", grpc.port)
                    .usePlaintext()
                    .flowControlWindow(64 * 1024)
                    .build();
            StringBuilder prompt = new StringBuilder();
            for (int i = 0; prompt.length() < 20_000; i++) {
                prompt.append((char) ('a' + i % 26));
            }
            Queue<GenerateStreamResponse> received = new ConcurrentLinkedQueue<>();
            CompletableFuture<Void> done = new CompletableFuture<>();
            ClientCallStreamObserver<?>[] call = new ClientCallStreamObserver<?>[1];
            GenerationGrpc.newStub(smallWindow).generateStream(
                    request(prompt.toString()).setMaxTokens(prompt.length()).setLogprobs(true).build(),
                    new ClientResponseObserver<Object, GenerateStreamResponse>() {
                        @Override
                        public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
                            call[0] = requestStream;
                            requestStream.disableAutoRequestWithInitial(1);
                        }

                        @Override
                        public void onNext(GenerateStreamResponse value) {
                            received.add(value);
                        }

                        @Override
                        public void onError(Throwable t) {
                            done.completeExceptionally(t);
                        }

                        @Override
                        public void onCompleted() {
                            done.complete(null);
                        }
                    });

            eventually(Duration.ofSeconds(10), () -> grpc.echo.ended().size() == 1, "the generation ended");
            assertEquals(1, received.size(), "the client asked for one message only");

            // A second call is served while the first one's messages wait: the scheduler thread is free.
            GenerateResponse other = grpc.blocking().generate(request("free").build());
            assertEquals("free", other.getText());

            call[0].request(Integer.MAX_VALUE);
            done.get(10, TimeUnit.SECONDS);
            assertEquals(prompt.length() + 1, received.size());
            StringBuilder text = new StringBuilder();
            received.forEach(m -> text.append(m.getText()));
            assertEquals(prompt.toString(), text.toString());
            assertEquals("stop", received.stream().reduce((a, b) -> b).orElseThrow().getFinishReason());
            smallWindow.shutdownNow();
        }
    }
}
