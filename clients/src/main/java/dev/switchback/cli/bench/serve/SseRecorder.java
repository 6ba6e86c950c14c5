package dev.switchback.cli.bench.serve;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * Takes a streamed response apart into Server-Sent Events as its bytes arrive, stamping each event with the
 * {@link System#nanoTime()} at which the client received the bytes that completed it. Nothing is parsed here:
 * the events' data is kept as text and read after the run, so the clock readings cost only a byte scan.
 *
 * <p>A non-2xx response is not an event stream; its body is kept whole as the error's text.
 */
final class SseRecorder implements HttpResponse.BodySubscriber<SseRecorder.Stream> {
    /** The events of one response, in order, and the time the body ended. */
    record Stream(int status, List<String> data, long[] arrivalNanos, long endNanos, String errorBody) {}

    private final int status;
    private final CompletableFuture<Stream> body = new CompletableFuture<>();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
    private final ByteArrayOutputStream whole;
    private final List<String> data = new ArrayList<>();
    private long[] arrivals = new long[64];
    private StringBuilder eventData;

    SseRecorder(int status) {
        this.status = status;
        this.whole = status / 100 == 2 ? null : new ByteArrayOutputStream();
    }

    @Override
    public CompletionStage<Stream> getBody() {
        return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
        long now = System.nanoTime();
        for (ByteBuffer b : buffers) {
            if (whole != null) {
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                whole.writeBytes(bytes);
                continue;
            }
            while (b.hasRemaining()) {
                byte c = b.get();
                if (c == '\n') {
                    endOfLine(now);
                } else if (c != '\r') {
                    line.write(c);
                }
            }
        }
    }

    @Override
    public void onError(Throwable error) {
        body.completeExceptionally(error);
    }

    @Override
    public void onComplete() {
        long now = System.nanoTime();
        if (eventData != null) {
            dispatch(now); // a last event the server closed on without its blank line
        }
        String error = whole == null ? null : whole.toString(StandardCharsets.UTF_8);
        body.complete(new Stream(status, List.copyOf(data), java.util.Arrays.copyOf(arrivals, data.size()), now, error));
    }

    // The WHATWG event-stream rules, reduced to what completions use: data lines joined by '\n', dispatched at a blank line.
    private void endOfLine(long now) {
        if (line.size() == 0) {
            if (eventData != null) {
                dispatch(now);
            }
            return;
        }
        String text = line.toString(StandardCharsets.UTF_8);
        line.reset();
        if (text.startsWith("data:")) {
            String value = text.substring(text.length() > 5 && text.charAt(5) == ' ' ? 6 : 5);
            if (eventData == null) {
                eventData = new StringBuilder(value);
            } else {
                eventData.append('\n').append(value);
            }
        }
    }

    private void dispatch(long now) {
        if (data.size() == arrivals.length) {
            arrivals = java.util.Arrays.copyOf(arrivals, arrivals.length * 2);
        }
        arrivals[data.size()] = now;
        data.add(eventData.toString());
        eventData = null;
    }
}
