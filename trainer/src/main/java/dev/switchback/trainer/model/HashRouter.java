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
        int s = tokens[0].length;
        int[] expert = new int[tokens.length * s];
        for (int b = 0; b < tokens.length; b++) {
            System.arraycopy(table.route(tokens[b]), 0, expert, b * s, s);
        }
        CapacityPlan plan = CapacityPlan.assign(expert, 1, table.experts(), Integer.MAX_VALUE);
        return new Routing(expert, 1, plan, null, null, null);
    }
}
