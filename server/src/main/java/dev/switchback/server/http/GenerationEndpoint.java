package dev.switchback.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code POST /v1/completions} and {@code POST /v1/chat/completions}: reads the body, then hands over to a {@link GenerationCall}. */
final class GenerationEndpoint implements Endpoint {
    // The service enforces the deadline itself; this margin lets its 504 win and only catches a service that never answers.
    private static final Duration BACKSTOP_MARGIN = Duration.ofSeconds(1);

    private final ResponseFormat format;
    private final GenerationService service;
    private final Offload offload;
    private final InFlight inFlight;
    private final Responses responses;
    private final HttpServerOptions options;

    GenerationEndpoint(ResponseFormat format, GenerationService service, Offload offload, InFlight inFlight,
            Responses responses, HttpServerOptions options) {
        this.format = format;
        this.service = service;
        this.offload = offload;
        this.inFlight = inFlight;
        this.responses = responses;
        this.options = options;
    }

    @Override
    public void handle(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        JsonNode body = Json.parse(request.content());
        Duration timeout = options.requestTimeout();
        OpenAiRequests.Params params;
        Callable<List<GenerationRequest>> prepare;
        if (format == ResponseFormat.TEXT_COMPLETION) {
            OpenAiRequests.Completion c = OpenAiRequests.completion(body, options.defaultMaxTokens());
            params = c.params();
            prepare = () -> c.params().requests(c.prompt(), timeout);
        } else {
            OpenAiRequests.Chat c = OpenAiRequests.chat(body, options.defaultMaxTokens());
            params = c.params();
            prepare = () -> c.params().requests(chatPrompt(c), timeout);
        }
        long created = options.clock().instant().getEpochSecond();
        CallOutput output = params.stream()
                ? new SseOutput(ctx, responses, format, params.model(), created, params.n(), params.logprobs(),
                        params.includeUsage(), options.maxStreamBufferBytes())
                : new JsonOutput(ctx, responses, format, params.model(), created, params.n(), params.logprobs());
        new GenerationCall(ctx, service, output, inFlight, params.n())
                .start(prepare, offload.executor(), timeout == null ? null : timeout.plus(BACKSTOP_MARGIN));
    }

    // Runs off the event loop: the model list may come from the store.
    private String chatPrompt(OpenAiRequests.Chat chat) {
        String model = chat.params().model();
        GenerationService.ModelCard card = service.models().stream()
                .filter(m -> m.name().equals(model))
                .findFirst()
                .orElseThrow(() -> new GenerationException(GenerationException.Kind.NOT_FOUND,
                        "model " + model + " not found", "model"));
        if (card.chatTemplate() == null) {
            throw new RequestException(ApiError.invalid("model " + model + " has no chat template", "model"));
        }
        ChatTemplate template;
        try {
            template = new ChatTemplate(card.chatTemplate());
        } catch (IllegalArgumentException e) {
            throw new GenerationException(GenerationException.Kind.INTERNAL,
                    "model " + model + " has an unusable chat template: " + e.getMessage(), null);
        }
        return template.render(chat.messages());
    }
}
