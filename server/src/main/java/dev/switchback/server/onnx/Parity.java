package dev.switchback.server.onnx;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import java.util.List;

/** How far one engine's logits are from another's on the same weights: what export checks and parity tests measure. */
public final class Parity {
    private Parity() {}

    /** max |actual − expected| over a logit vector, relative to max |expected|. */
    public static double relativeError(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new IllegalArgumentException("logit vectors of " + expected.length + " and " + actual.length + " values");
        }
        double scale = 0;
        double diff = 0;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        return scale == 0 ? (diff == 0 ? 0 : Double.POSITIVE_INFINITY) : diff / scale;
    }

    /**
     * The largest {@link #relativeError} over each prompt's whole-prompt logits and then {@code decodeSteps} greedy
     * tokens fed one at a time (the reference engine choosing them), on fresh sequences of both engines.
     */
    public static double maxRelativeError(StepEngine reference, StepEngine candidate, List<int[]> prompts, int decodeSteps) {
        double worst = 0;
        int context = reference.config().contextLength();
        for (int[] prompt : prompts) {
            try (Sequence a = reference.newSequence(); Sequence b = candidate.newSequence()) {
                float[] expected = reference.prefill(a, prompt);
                float[] actual = candidate.prefill(b, prompt);
                worst = Math.max(worst, relativeError(expected, actual));
                for (int step = 0; step < decodeSteps && a.length() < context; step++) {
                    int[] next = {argmax(expected)};
                    expected = reference.forward(List.of(new Engine.Step(a, next)))[0];
                    actual = candidate.forward(List.of(new Engine.Step(b, next)))[0];
                    worst = Math.max(worst, relativeError(expected, actual));
                }
            }
        }
        return worst;
    }

    /** The index of the largest value (greedy decoding). */
    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
