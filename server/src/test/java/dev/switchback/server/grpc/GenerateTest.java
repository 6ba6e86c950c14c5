package dev.switchback.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.generation.EchoGenerationService;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.grpc.proto.GenerateRequest;
import dev.switchback.server.grpc.proto.GenerateResponse;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import dev.switchback.server.grpc.proto.ListModelsRequest;
import dev.switchback.server.grpc.proto.ModelCard;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GenerateTest {
    private final GrpcFixture grpc = new GrpcFixture();

    @AfterEach
    void close() throws InterruptedException {
        grpc.close();
    }

    @Test
    void returnsTheWholeTextWithFinishReasonAndUsage() {
        GenerateResponse r = grpc.blocking().generate(request("hello").build());
        assertEquals("hello", r.getText(), "the held-back last character is in the text too");
        assertEquals("stop", r.getFinishReason());
        assertEquals(5, r.getUsage().getPromptTokens());
        assertEquals(5, r.getUsage().getCompletionTokens());
        assertEquals(10, r.getUsage().getTotalTokens());
        assertEquals("echo", r.getModel());
        assertTrue(r.getId().startsWith("cmpl-echo-"), r.getId());
        assertEquals(0, r.getTokenIdsCount(), "no token ids unless asked for");
        assertEquals(0, r.getTokenLogprobsCount());
    }

    @Test
    void stopsAtMaxTokensWithTokenIdsAndLogprobsWhenAsked() {
        GenerateResponse r = grpc.blocking().generate(request("hello world").setMaxTokens(5).setLogprobs(true).build());
        assertEquals("hello", r.getText());
        assertEquals("length", r.getFinishReason());
        assertEquals(List.of((int) 'h', (int) 'e', (int) 'l', (int) 'l', (int) 'o'), r.getTokenIdsList());
        assertEquals(List.of(-0.5f, -0.5f, -0.5f, -0.5f, -0.5f), r.getTokenLogprobsList());
        assertEquals(5, r.getUsage().getCompletionTokens());
    }

    @Test
    void stopsBeforeAStopString() {
        GenerateResponse r = grpc.blocking().generate(request("hello world").addStop(" wor").addStop("zzz").build());
        assertEquals("hello", r.getText());
        assertEquals("stop", r.getFinishReason());
    }

    @Test
    void protoDefaultsBecomeServerDefaults() {
        grpc.blocking().generate(request("hi").build());
        GenerationRequest sent = grpc.echo.requests().getLast();
        assertEquals(GrpcRequests.DEFAULT_MAX_TOKENS, sent.sampling().maxTokens());
        assertTrue(sent.maxTokensDefaulted(), "max_tokens 0 is the server's default, which may be lowered to fit");
        assertEquals(1.0, sent.sampling().temperature());
        assertEquals(1.0, sent.sampling().topP());
        assertEquals(1.0, sent.sampling().repetitionPenalty());
        assertEquals(null, sent.sampling().seed());
    }

    @Test
    void samplingSettingsArriveAsTheirDecimalValues() {
        grpc.blocking().generate(request("hi").setTemperature(0.7f).setTopP(0.9f).setTopK(40)
                .setRepetitionPenalty(1.1f).setSeed(42).build());
        GenerationRequest sent = grpc.echo.requests().getLast();
        assertEquals(0.7, sent.sampling().temperature());
        assertEquals(0.9, sent.sampling().topP());
        assertEquals(40, sent.sampling().topK());
        assertEquals(1.1, sent.sampling().repetitionPenalty());
        assertEquals(42L, sent.sampling().seed());
    }

    @Test
    void theClientDeadlineBecomesTheRequestTimeout() {
        grpc.blocking().withDeadlineAfter(3, TimeUnit.SECONDS).generate(request("hi").build());
        Duration timeout = grpc.echo.requests().getLast().timeout();
        assertTrue(timeout.compareTo(Duration.ofSeconds(2)) > 0 && timeout.compareTo(Duration.ofSeconds(3)) <= 0,
                "timeout " + timeout);

        GenerationGrpc.newBlockingStub(grpc.channel).generate(request("hi").build());
        assertEquals(null, grpc.echo.requests().getLast().timeout(), "no deadline, no timeout");
    }

    @Test
    void listsModels() {
        List<ModelCard> models = grpc.blocking().listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
        assertEquals(1, models.size());
        ModelCard card = models.getFirst();
        assertEquals(EchoGenerationService.MODEL, card.getName());
        assertEquals(1, card.getVersion());
        assertEquals("echo", card.getArchitecture());
        assertEquals(1000, card.getTotalParameters());
        assertEquals(250, card.getActiveParameters());
        assertEquals(2048, card.getContextLength());
        assertTrue(card.getLoaded());
    }

    static GenerateRequest.Builder request(String prompt) {
        return GenerateRequest.newBuilder().setModel(EchoGenerationService.MODEL).setPrompt(prompt);
    }
}
