package dev.switchback.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationListener.Usage;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;

/** Collects every choice and answers with one JSON body ({@code stream: false}). */
final class JsonOutput implements CallOutput {
    private final ChannelHandlerContext ctx;
    private final Responses responses;
    private final ResponseFormat format;
    private final String model;
    private final long created;
    private final StringBuilder[] texts;
    private final int[] offsets;
    private final ResponseFormat.Logprobs[] logprobs;
    private final String[] finishReasons;
    private int promptTokens;
    private int completionTokens;
    private String id;

    JsonOutput(ChannelHandlerContext ctx, Responses responses, ResponseFormat format, String model, long created,
            int n, boolean withLogprobs) {
        this.ctx = ctx;
        this.responses = responses;
        this.format = format;
        this.model = model;
        this.created = created;
        this.texts = new StringBuilder[n];
        this.offsets = new int[n];
        this.logprobs = new ResponseFormat.Logprobs[n];
        this.finishReasons = new String[n];
        for (int i = 0; i < n; i++) {
            texts[i] = new StringBuilder();
            logprobs[i] = withLogprobs ? format.newLogprobs() : null;
        }
    }

    @Override
    public void begin(String handleId) {
        id = format.responseId(handleId);
    }

    @Override
    public void token(int choice, TokenPiece piece) {
        String text = piece.text();
        if (logprobs[choice] != null) {
            logprobs[choice].add(text, piece.logprob(), offsets[choice]);
        }
        offsets[choice] += text.codePointCount(0, text.length());
        texts[choice].append(text);
    }

    @Override
    public void complete(int choice, Completion completion) {
        texts[choice].append(completion.remainingText());
        finishReasons[choice] = completion.reason().openAi();
        promptTokens += completion.usage().promptTokens();
        completionTokens += completion.usage().completionTokens();
    }

    @Override
    public void end() {
        List<ObjectNode> choices = new ArrayList<>(texts.length);
        for (int i = 0; i < texts.length; i++) {
            choices.add(format.choice(i, texts[i].toString(), logprobs[i], finishReasons[i]));
        }
        ObjectNode body = format.response(id, created, model, choices, new Usage(promptTokens, completionTokens));
        Responses.send(ctx, Responses.json(ctx, HttpResponseStatus.OK, body));
    }

    @Override
    public void fail(ApiError error) {
        responses.sendError(ctx, error);
    }
}
