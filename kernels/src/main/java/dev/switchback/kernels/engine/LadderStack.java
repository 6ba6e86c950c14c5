package dev.switchback.kernels.engine;

import java.util.List;

/**
 * The block stack applied {@code passes} times with the same weights (Ladder); pass k's output is pass k+1's
 * input, without re-injecting the embeddings. Each (pass, layer) has its own KV-cache slot, pass·layers + layer.
 * One pass is an ordinary Transformer stack.
 */
final class LadderStack {
    private final List<Block> blocks;
    private final int passes;

    LadderStack(List<Block> blocks, int passes) {
        this.blocks = List.copyOf(blocks);
        this.passes = passes;
    }

    void forward(Batch b, float[] x, Engine.Context ctx) {
        for (int p = 0; p < passes; p++) {
            for (int l = 0; l < blocks.size(); l++) {
                blocks.get(l).forward(b, x, p * blocks.size() + l, ctx);
            }
        }
    }

    /** KV-cache slots per position. */
    int slots() {
        return passes * blocks.size();
    }
}
