package dev.switchback.server.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.switchback.server.generation.GenerationService;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;

/**
 * The model routes: OpenAI's {@code GET /v1/models} (the models that can serve now) and the KServe/Triton-style
 * repository API ({@code GET /v2/repository/index}, {@code POST /v2/repository/models/{name}/load|unload}).
 */
final class ModelEndpoints {
    private static final String OWNER = "switchback";

    private final GenerationService service;
    private final Offload offload;
    private final long createdEpochSeconds;

    /** @param createdEpochSeconds the {@code created} of every listed model (the store keeps no creation time) */
    ModelEndpoints(GenerationService service, Offload offload, long createdEpochSeconds) {
        this.service = service;
        this.offload = offload;
        this.createdEpochSeconds = createdEpochSeconds;
    }

    void list(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        offload.reply(ctx, () -> {
            ObjectNode body = Json.object().put("object", "list");
            ArrayNode data = body.putArray("data");
            for (GenerationService.ModelCard card : service.models()) {
                if (card.loaded()) {
                    data.addObject()
                            .put("id", card.name())
                            .put("object", "model")
                            .put("created", createdEpochSeconds)
                            .put("owned_by", OWNER);
                }
            }
            return Responses.json(ctx, HttpResponseStatus.OK, body);
        });
    }

    void index(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        offload.reply(ctx, () -> {
            ArrayNode body = Json.MAPPER.createArrayNode();
            for (GenerationService.ModelCard card : service.models()) {
                body.add(state(card.name(), card.version(), card.loaded()));
            }
            return Responses.json(ctx, HttpResponseStatus.OK, body);
        });
    }

    void load(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        String name = pathParams.getFirst();
        offload.replyLater(ctx, () -> service.load(name).thenApply(card ->
                Responses.json(ctx, HttpResponseStatus.OK, state(card.name(), card.version(), true))));
    }

    void unload(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        String name = pathParams.getFirst();
        offload.replyLater(ctx, () -> service.unload(name).thenApply(done ->
                Responses.json(ctx, HttpResponseStatus.OK, Json.object().put("name", name).put("state", "UNAVAILABLE"))));
    }

    // Versions are strings in the KServe repository protocol.
    private static ObjectNode state(String name, int version, boolean loaded) {
        return Json.object()
                .put("name", name)
                .put("version", Integer.toString(version))
                .put("state", loaded ? "READY" : "UNAVAILABLE");
    }
}
