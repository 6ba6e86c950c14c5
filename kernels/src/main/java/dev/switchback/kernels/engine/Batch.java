package dev.switchback.kernels.engine;

import java.util.List;

/**
 * The tokens of one forward call, flattened: every step's new tokens one after another, each with its sequence,
 * absolute position and predecessor. Activations are {@code [tokens, d]} arrays in this order.
 */
final class Batch {
    final int tokens;
    final int[] ids;
    final int[] previous;
    final int[] positions;
    final Sequence[] owner;
    /** Row of each step's last token. */
    final int[] lastRow;

    Batch(List<Engine.Step> steps) {
        int n = 0;
        for (Engine.Step s : steps) {
            n += s.tokens().length;
        }
        tokens = n;
        ids = new int[n];
        previous = new int[n];
        positions = new int[n];
        owner = new Sequence[n];
        lastRow = new int[steps.size()];
        int row = 0;
        for (int i = 0; i < steps.size(); i++) {
            Engine.Step s = steps.get(i);
            Sequence seq = s.sequence();
            for (int j = 0; j < s.tokens().length; j++) {
                ids[row] = s.tokens()[j];
                positions[row] = seq.length() + j;
                previous[row] = seq.previous(seq.length() + j, s.tokens(), 0);
                owner[row] = seq;
                row++;
            }
            lastRow[i] = row - 1;
        }
    }
}
