package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationService.Handle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cancels a generation when its call is cancelled (client gone, deadline passed), whichever of the two, the
 * cancellation or the handle, arrives first.
 */
final class CallCancellation {
    private volatile Handle handle;
    private volatile boolean cancelled;
    private final AtomicBoolean sent = new AtomicBoolean();

    /** The generation started; cancels it at once if the call is already gone. */
    void attach(Handle h) {
        handle = h;
        if (cancelled) {
            send(h);
        }
    }

    /** The call was cancelled; the scheduler frees the batch slot and KV blocks now, not at max_tokens. */
    void cancel() {
        cancelled = true;
        Handle h = handle;
        if (h != null) {
            send(h);
        }
    }

    private void send(Handle h) {
        if (sent.compareAndSet(false, true)) {
            h.cancel();
        }
    }
}
