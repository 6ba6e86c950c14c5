package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** How a call hands the scheduler's events to the event loop: in order, and in batches that share one flush. */
class GenerationCallTest {
    /** Records what reaches the output, with a "|" for each flush. */
    private static final class RecordingOutput implements CallOutput {
        final List<String> log = new ArrayList<>();

        @Override
        public void begin(String handleId) {
            log.add("begin " + handleId);
        }

        @Override
        public void token(int choice, TokenPiece piece) {
            log.add(piece.text());
        }

        @Override
        public void complete(int choice, Completion completion) {
            log.add("complete " + completion.reason().openAi());
        }

        @Override
        public void end() {
            log.add("end");
        }

        @Override
        public void fail(ApiError error) {
            log.add("fail");
        }

        @Override
        public void flush() {
            log.add("|");
        }
    }

    /** Takes one submission and keeps its listener, so the test plays the scheduler. */
    private static final class OneShotService implements GenerationService {
        GenerationListener listener;

        @Override
        public Handle submit(GenerationRequest request, GenerationListener l) {
            listener = l;
            return new Handle() {
                @Override
                public String id() {
                    return "cmpl-1";
                }

                @Override
                public void cancel() {}
            };
        }

        @Override
        public List<ModelCard> models() {
            return List.of();
        }

        @Override
        public boolean ready() {
            return true;
        }

        @Override
        public CompletableFuture<ModelCard> load(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<Void> unload(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void shutdown(java.time.Duration grace) {}
    }

    @Test
    void eventsThatPileUpWhileTheLoopIsBusyLeaveInOneFlush() {
        EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        RecordingOutput output = new RecordingOutput();
        OneShotService service = new OneShotService();
        GenerationCall call = new GenerationCall(channel.pipeline().firstContext(), service, output, new InFlight(), 1);
        call.start(() -> List.of(new GenerationRequest("m", "p", SamplingParams.greedy(8), false, null)), Runnable::run, null);
        service.listener.onToken(new TokenPiece(1, "a", 0));
        channel.runPendingTasks();
        assertEquals(List.of("begin cmpl-1", "|", "a", "|"), output.log, "the response begins, then the first token");
        output.log.clear();
        // The loop is busy (its tasks do not run) while the scheduler produces three tokens: one drain, one flush.
        for (String text : List.of("b", "c", "d")) {
            service.listener.onToken(new TokenPiece(1, text, 0));
        }
        channel.runPendingTasks();
        assertEquals(List.of("b", "c", "d", "|"), output.log);
        output.log.clear();
        service.listener.onToken(new TokenPiece(1, "e", 0));
        service.listener.onComplete(new Completion(GenerationListener.FinishReason.LENGTH,
                new GenerationListener.Usage(1, 5), ""));
        channel.runPendingTasks();
        assertEquals(List.of("e", "complete length", "end", "|"), output.log, "a drain after the last one takes what came since");
        channel.finishAndReleaseAll();
    }
}
