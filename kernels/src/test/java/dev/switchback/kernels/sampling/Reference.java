package dev.switchback.kernels.sampling;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** The sampling pipeline written the obvious way, in double, with full sorts: what the Sampler must agree with. */
final class Reference {
    private Reference() {}

    /** Logits after the repetition penalty, rounded to float as the model's float32 logits would be. */
    static double[] penalised(float[] logits, int offset, int vocab, int[] history, double penalty) {
        double[] z = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            z[i] = logits[offset + i];
        }
        for (int t : IntStream.of(history).distinct().toArray()) {
            z[t] = (float) (z[t] < 0 ? z[t] * penalty : z[t] / penalty);
        }
        return z;
    }

    static double[] softmax(double[] z) {
        double max = Arrays.stream(z).max().orElseThrow();
        double[] p = new double[z.length];
        double sum = 0;
        for (int i = 0; i < z.length; i++) {
            p[i] = Math.exp(z[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < z.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** Every token, best first: higher logit, then lower id. */
    static int[] ranked(double[] z) {
        return IntStream.range(0, z.length)
                .boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -z[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue)
                .toArray();
    }

    /** The distribution a non-greedy step draws from: probabilities over the vocabulary, 0 outside the support. */
    static double[] distribution(float[] logits, int offset, int vocab, int[] history, SamplingParams params) {
        double[] z = penalised(logits, offset, vocab, history, params.repetitionPenalty());
        for (int i = 0; i < vocab; i++) {
            z[i] /= params.temperature();
        }
        int[] order = ranked(z);
        int k = params.topK() == 0 ? vocab : Math.min(params.topK(), vocab);
        double[] kept = new double[k];
        for (int r = 0; r < k; r++) {
            kept[r] = z[order[r]];
        }
        double[] p = softmax(kept);
        int n = 0;
        double before = 0;
        while (n < k && before < params.topP()) {
            before += p[n++];
        }
        double nucleus = 0;
        for (int r = 0; r < n; r++) {
            nucleus += p[r];
        }
        double[] out = new double[vocab];
        for (int r = 0; r < n; r++) {
            out[order[r]] = p[r] / nucleus;
        }
        return out;
    }

    /** The log-softmax of the penalised logits, as greedy reports it. */
    static double[] greedyLogprobs(float[] logits, int offset, int vocab, int[] history, double penalty) {
        return Arrays.stream(softmax(penalised(logits, offset, vocab, history, penalty))).map(Math::log).toArray();
    }
}
