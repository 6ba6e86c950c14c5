package dev.switchback.kernels.kv;

/** No free KV block is left for a sequence that needs one; the scheduler preempts or waits. */
public final class KvCacheFullException extends RuntimeException {
    public KvCacheFullException(String message) {
        super(message);
    }
}
