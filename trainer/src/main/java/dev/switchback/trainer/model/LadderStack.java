package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * The block stack applied {@code passes} times with the same weights (Ladder); pass k's output is pass k+1's
 * input, without re-injecting the embeddings. One pass is an ordinary Transformer stack.
 */
final class LadderStack {
    private final List<Block> blocks;
    private final int passes;

    LadderStack(List<Block> blocks, int passes) {
        this.blocks = List.copyOf(blocks);
        this.passes = passes;
    }

    NDArray forward(NDArray x, ForwardPass pass) {
        for (int p = 0; p < passes; p++) {
            pass.beginLadderPass(p);
            for (Block block : blocks) {
                x = block.forward(x, pass);
            }
        }
        return x;
    }
}
