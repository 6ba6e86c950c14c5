package dev.switchback.cli.bench;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.server.onnx.Parity;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Times batched decoding on an engine (native or ONNX Runtime): a prompt per sequence, then one greedy token per sequence per step. */
public final class EngineDecode {
    private EngineDecode() {}

    /**
     * Generated tokens per second over all sequences (prefill excluded), best of {@code repeats}.
     *
     * @param warmup decode steps run before timing (JIT, caches)
     */
    public static double tokensPerSecond(StepEngine engine, int batch, int promptLen, int steps, int warmup, int repeats, long seed) {
        int context = engine.config().contextLength();
        if (promptLen + warmup + steps > context) {
            throw new IllegalArgumentException("prompt " + promptLen + " + warm-up " + warmup + " + steps " + steps
                    + " exceed the context of " + context);
        }
        double best = 0;
        for (int r = 0; r < repeats; r++) {
            SplittableRandom rng = new SplittableRandom(seed + r);
            List<Sequence> seqs = new ArrayList<>();
            try {
                List<Engine.Step> prefill = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    Sequence s = engine.newSequence();
                    seqs.add(s);
                    int[] prompt = new int[promptLen];
                    for (int i = 0; i < promptLen; i++) {
                        prompt[i] = rng.nextInt(engine.config().vocabSize());
                    }
                    prefill.add(new Engine.Step(s, prompt));
                }
                float[][] logits = engine.forward(prefill);
                for (int i = 0; i < warmup; i++) {
                    logits = step(engine, seqs, logits);
                }
                long start = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    logits = step(engine, seqs, logits);
                }
                best = Math.max(best, (double) batch * steps / ((System.nanoTime() - start) / 1e9));
            } finally {
                seqs.forEach(Sequence::close);
            }
        }
        return best;
    }

    private static float[][] step(StepEngine engine, List<Sequence> seqs, float[][] logits) {
        List<Engine.Step> steps = new ArrayList<>(seqs.size());
        for (int b = 0; b < seqs.size(); b++) {
            steps.add(new Engine.Step(seqs.get(b), new int[] {Parity.argmax(logits[b])}));
        }
        return engine.forward(steps);
    }
}
