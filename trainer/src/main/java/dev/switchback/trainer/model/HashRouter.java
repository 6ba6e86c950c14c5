package dev.switchback.trainer.model;

import dev.switchback.store.model.HashRouting;

/** Routes by the fixed Hash Layers table on the input token ids: no gate, no capacity, no auxiliary loss. */
final class HashRouter {
    private final HashRouting table;

    HashRouter(HashRouting table) {
        this.table = table;
    }

    /** tokens: [B][S] input ids → routing of the B·S flattened positions. */
    Routing route(int[][] tokens) {
        return route(tokens, new int[tokens.length]);
    }

    /**
     * Routing of [B][S] ids that continue sequences whose last earlier token was {@code previous[b]} (0 at the
     * start of a sequence), so a bigram table sees the same predecessor as over the whole sequence.
     */
    Routing route(int[][] tokens, int[] previous) {
        int s = tokens[0].length;
        int[] expert = new int[tokens.length * s];
        for (int b = 0; b < tokens.length; b++) {
            int prev = previous[b];
            for (int t = 0; t < s; t++) {
                expert[b * s + t] = table.expert(prev, tokens[b][t]);
                prev = tokens[b][t];
            }
        }
        CapacityPlan plan = CapacityPlan.assign(expert, 1, table.experts(), Integer.MAX_VALUE);
        return new Routing(expert, 1, plan, null, null, null);
    }
}
