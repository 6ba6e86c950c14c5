package dev.switchback.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationListener.Usage;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Streams a call as OpenAI's Server-Sent Events ({@code stream: true}): {@code data: {json}\n\n} per chunk, then
 * {@code data: [DONE]\n\n}; chunks leave when the call flushes (after each batch of events it hands over).
 *
 * <p>Bytes handed to Netty but not yet taken by the socket (or by HTTP/2 flow control) are counted; past
 * {@code maxBufferedBytes} the client is reading too slowly, and since a generation cannot pause, the stream is
 * closed, which cancels the generation, instead of buffering without bound.
 */
final class SseOutput implements CallOutput {
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] EVENT_END = "\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final System.Logger LOG = System.getLogger(SseOutput.class.getName());
    /** Stands in for a token's text in a rendered chunk; Jackson writes it as {@link #MARKER_JSON}. */
    static final String MARKER = "\u0001switchback-token\u0001";
    private static final String MARKER_JSON = "\\u0001switchback-token\\u0001";

    private final ChannelHandlerContext ctx;
    private final Responses responses;
    private final ResponseFormat format;
    private final String model;
    private final long created;
    private final boolean withLogprobs;
    private final boolean withUsage;
    private final long maxBufferedBytes;
    private final int[] offsets;
    private final byte[][][] templates;
    private long bufferedBytes;
    private int promptTokens;
    private int completionTokens;
    private String id;

    SseOutput(ChannelHandlerContext ctx, Responses responses, ResponseFormat format, String model, long created, int n,
            boolean withLogprobs, boolean withUsage, long maxBufferedBytes) {
        this.ctx = ctx;
        this.responses = responses;
        this.format = format;
        this.model = model;
        this.created = created;
        this.withLogprobs = withLogprobs;
        this.withUsage = withUsage;
        this.maxBufferedBytes = maxBufferedBytes;
        this.offsets = new int[n];
        this.templates = new byte[n][][];
    }

    @Override
    public void begin(String handleId) {
        id = format.responseId(handleId);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_EVENT_STREAM)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
        // HTTP/1.1 needs chunked framing; the HTTP/2 codec drops the header.
        HttpUtil.setTransferEncodingChunked(head, true);
        ctx.write(head);
        for (int i = 0; i < offsets.length; i++) {
            ObjectNode opening = format.openingChunkChoice(i);
            if (opening != null) {
                event(chunk(opening, null));
            }
        }
        ctx.flush();
    }

    @Override
    public void token(int choice, TokenPiece piece) {
        String text = piece.text();
        if (text.isEmpty() && !withLogprobs) {
            return; // nothing the client can use yet (a pending multi-byte character or stop-string prefix)
        }
        ResponseFormat.Logprobs logprobs = null;
        if (withLogprobs) {
            logprobs = format.newLogprobs();
            logprobs.add(text, piece.logprob(), offsets[choice]);
        }
        offsets[choice] += text.codePointCount(0, text.length());
        if (logprobs == null) {
            tokenEvent(choice, text);
            return;
        }
        event(chunk(format.chunkChoice(choice, text, logprobs, null), null));
    }

    /**
     * The chunk of a plain token, without building a JSON tree per token: the chunk of a marker text is rendered
     * once per choice, and each token's escaped text is spliced in where the marker was (same bytes as {@link #event}).
     */
    private void tokenEvent(int choice, String text) {
        if (templates[choice] == null) {
            ByteBuf once = io.netty.buffer.Unpooled.buffer(256);
            Json.writeTo(once, chunk(format.chunkChoice(choice, MARKER, null, null), null));
            String rendered = once.toString(StandardCharsets.UTF_8);
            int at = rendered.indexOf(MARKER_JSON);
            templates[choice] = new byte[][] {
                rendered.substring(0, at).getBytes(StandardCharsets.UTF_8),
                rendered.substring(at + MARKER_JSON.length()).getBytes(StandardCharsets.UTF_8)};
        }
        byte[] escaped = JsonStringEncoder.getInstance().quoteAsUTF8(text);
        byte[][] t = templates[choice];
        ByteBuf buf = ctx.alloc().buffer(DATA.length + t[0].length + escaped.length + t[1].length + EVENT_END.length);
        buf.writeBytes(DATA).writeBytes(t[0]).writeBytes(escaped).writeBytes(t[1]).writeBytes(EVENT_END);
        write(new DefaultHttpContent(buf));
    }

    @Override
    public void complete(int choice, Completion completion) {
        promptTokens += completion.usage().promptTokens();
        completionTokens += completion.usage().completionTokens();
        event(chunk(format.chunkChoice(choice, completion.remainingText(), null, completion.reason().openAi()), null));
    }

    @Override
    public void end() {
        if (withUsage) {
            event(format.chunk(id, created, model, List.of(), true, new Usage(promptTokens, completionTokens)));
        }
        done();
    }

    @Override
    public void fail(ApiError error) {
        if (id == null) {
            responses.sendError(ctx, error);
            return;
        }
        // Headers are gone already: the error travels as an event, as OpenAI-compatible servers do.
        event(Responses.errorBody(error));
        done();
    }

    private ObjectNode chunk(ObjectNode choice, Usage usage) {
        return format.chunk(id, created, model, List.of(choice), withUsage, usage);
    }

    private void event(ObjectNode json) {
        ByteBuf buf = ctx.alloc().buffer(256);
        buf.writeBytes(DATA);
        Json.writeTo(buf, json);
        buf.writeBytes(EVENT_END);
        write(new DefaultHttpContent(buf));
    }

    private void done() {
        write(new DefaultLastHttpContent(ctx.alloc().buffer(DONE.length).writeBytes(DONE)));
    }

    @Override
    public void flush() {
        ctx.flush();
    }

    private void write(HttpContent content) {
        int bytes = content.content().readableBytes();
        bufferedBytes += bytes;
        ctx.write(content).addListener(f -> {
            bufferedBytes -= bytes;
            if (!f.isSuccess()) {
                ctx.channel().close();
            }
        });
        if (bufferedBytes > maxBufferedBytes) {
            LOG.log(System.Logger.Level.DEBUG, "closing stream {0}: client {1} is {2} bytes behind", id,
                    ctx.channel().remoteAddress(), bufferedBytes);
            ctx.channel().close();
        }
    }
}
