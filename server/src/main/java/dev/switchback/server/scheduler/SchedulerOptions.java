package dev.switchback.server.scheduler;

import java.time.Duration;

/**
 * How one model's scheduler queues and batches.
 *
 * @param maxWaiting requests queued for admission before new ones are refused (RESOURCE_EXHAUSTED)
 * @param maxRunning sequences in the running batch
 * @param tokenBudget most tokens one forward step computes (one per decoding sequence, the rest prompt chunks);
 *     at least {@code maxRunning}, so every running sequence decodes at every step
 * @param prefillChunk most prompt tokens of one sequence per step, so a long prompt does not stall decoding
 * @param prefixCacheBytes KV bytes the prefix cache may hold on to; 0 turns it off
 * @param defaultTimeout deadline of requests that bring none; {@link Duration#ZERO} for none
 */
public record SchedulerOptions(int maxWaiting, int maxRunning, int tokenBudget, int prefillChunk, long prefixCacheBytes,
        Duration defaultTimeout) {
    public SchedulerOptions {
        atLeast("maxWaiting", maxWaiting, 1);
        atLeast("maxRunning", maxRunning, 1);
        if (tokenBudget < maxRunning) {
            throw new IllegalArgumentException("tokenBudget must be >= maxRunning (" + maxRunning + "), got " + tokenBudget);
        }
        atLeast("prefillChunk", prefillChunk, 1);
        if (prefixCacheBytes < 0) {
            throw new IllegalArgumentException("prefixCacheBytes must be >= 0, got " + prefixCacheBytes);
        }
        if (defaultTimeout == null || defaultTimeout.isNegative()) {
            throw new IllegalArgumentException("defaultTimeout must be >= 0 (0 for none), got " + defaultTimeout);
        }
    }

    private static void atLeast(String field, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(field + " must be >= " + min + ", got " + value);
        }
    }
}
