package dev.switchback.server.models;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Records what a generation's listener hears; {@link #await()} returns once it has ended. */
public class Recorder implements GenerationListener {
    /** Everything one generation produced. */
    public record Result(List<Integer> tokens, String text, Completion completion, GenerationException error, int callsAfterEnd) {}

    private final List<Integer> tokens = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();
    private final CompletableFuture<Result> done = new CompletableFuture<>();
    private volatile int callsAfterEnd;

    @Override
    public synchronized void onToken(TokenPiece piece) {
        if (done.isDone()) {
            callsAfterEnd++;
        }
        tokens.add(piece.tokenId());
        text.append(piece.text());
    }

    @Override
    public synchronized void onComplete(Completion completion) {
        if (done.isDone()) {
            callsAfterEnd++;
            return;
        }
        text.append(completion.remainingText());
        done.complete(new Result(List.copyOf(tokens), text.toString(), completion, null, 0));
    }

    @Override
    public synchronized void onError(GenerationException error) {
        if (done.isDone()) {
            callsAfterEnd++;
            return;
        }
        done.complete(new Result(List.copyOf(tokens), text.toString(), null, error, 0));
    }

    /** A recorder whose {@code onToken} throws once it has recorded {@code tokens} tokens (a client gone away). */
    public static Recorder throwingAt(int tokens) {
        return new Recorder() {
            @Override
            public void onToken(TokenPiece piece) {
                super.onToken(piece);
                if (tokenCount() == tokens) {
                    throw new IllegalStateException("client went away");
                }
            }
        };
    }

    /** The result, waiting up to 30 s for it. */
    public Result await() {
        try {
            return done.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("generation did not end: " + e, e);
        }
    }

    public boolean isDone() {
        return done.isDone();
    }

    public synchronized int tokenCount() {
        return tokens.size();
    }

    public int callsAfterEnd() {
        return callsAfterEnd;
    }
}
