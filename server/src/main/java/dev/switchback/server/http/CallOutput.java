package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.TokenPiece;

/**
 * Where a {@link GenerationCall}'s events become HTTP: one whole JSON response, or a Server-Sent Events stream.
 * Every method runs on the channel's event loop, in this order: {@link #begin}, then tokens and completions,
 * then {@link #end}; or {@link #fail} at any point, after which nothing more is called.
 */
interface CallOutput {
    /** All choices are queued; {@code handleId} is the first choice's handle id. */
    void begin(String handleId);

    void token(int choice, TokenPiece piece);

    void complete(int choice, Completion completion);

    /** Every choice has completed. */
    void end();

    /** The request failed; before {@link #begin} this is a plain error response. */
    void fail(ApiError error);

    /**
     * Sends what the calls since the last flush wrote. The call flushes once per batch of events it hands over, so
     * a stream whose events pile up while the event loop is busy leaves in one write rather than one per event.
     */
    default void flush() {}
}
