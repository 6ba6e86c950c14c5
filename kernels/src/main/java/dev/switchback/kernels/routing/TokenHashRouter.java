package dev.switchback.kernels.routing;

import dev.switchback.store.model.HashRouting;

/**
 * Hash Layers routing: the expert comes from the fixed table on the original input token id (and, for bigram
 * tables, the previous token id), the same in every hash layer and Ladder pass. No gate, no capacity.
 */
public final class TokenHashRouter {
    private final HashRouting table;

    public TokenHashRouter(HashRouting table) {
        this.table = table;
    }

    /** Routes tokens {@code ids} whose predecessors in their own sequences are {@code previous} (0 at the start). */
    public RoutePlan route(int[] ids, int[] previous) {
        int[] expert = new int[ids.length];
        for (int t = 0; t < ids.length; t++) {
            expert[t] = table.expert(previous[t], ids[t]);
        }
        return RoutePlan.plan(ids.length, 1, table.experts(), expert, null, Integer.MAX_VALUE);
    }

    public int experts() {
        return table.experts();
    }
}
