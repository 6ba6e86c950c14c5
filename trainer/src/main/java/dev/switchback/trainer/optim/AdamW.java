package dev.switchback.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov &amp; Hutter): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 * p ← p − lr·(m̂/(√v̂ + ε) + λ·p) with λ applied only to matrices (not norm gains).
 * Its moments are plain tensors so a checkpoint can save and restore them exactly.
 */
public final class AdamW {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> params;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private long step;

    public AdamW(Map<String, NDArray> params, NDManager stateManager, double beta1, double beta2, double eps, double weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (var e : params.entrySet()) {
            m.put(e.getKey(), stateManager.zeros(e.getValue().getShape()));
            v.put(e.getKey(), stateManager.zeros(e.getValue().getShape()));
        }
    }

    /**
     * Global L2 norm of all gradients, and scales them in place so it is at most {@code clip} (0: no clipping).
     *
     * @return the norm before clipping
     */
    public double clipGradients(double clip) {
        double sq = 0;
        for (NDArray p : params.values()) {
            NDArray g = p.getGradient();
            sq += g.square().sum().getFloat();
        }
        double norm = Math.sqrt(sq);
        if (clip > 0 && norm > clip) {
            float scale = (float) (clip / (norm + 1e-6));
            for (NDArray p : params.values()) {
                p.getGradient().muli(scale);
            }
        }
        return norm;
    }

    /** Applies one update with learning rate {@code lr} and zeroes the gradients. */
    public void step(double lr) {
        step++;
        double c1 = 1 - Math.pow(beta1, step);
        double c2 = 1 - Math.pow(beta2, step);
        for (var e : params.entrySet()) {
            NDArray p = e.getValue();
            NDArray g = p.getGradient();
            NDArray mi = m.get(e.getKey());
            NDArray vi = v.get(e.getKey());
            mi.muli((float) beta1).addi(g.mul((float) (1 - beta1)));
            vi.muli((float) beta2).addi(g.square().muli((float) (1 - beta2)));
            NDArray update = mi.div((float) c1).divi(vi.div((float) c2).sqrt().addi((float) eps));
            if (weightDecay > 0 && p.getShape().dimension() >= 2) {
                update.addi(p.mul((float) weightDecay));
            }
            p.subi(update.muli((float) lr));
            g.muli(0f);
        }
    }

    /** Steps taken so far (the bias-correction counter). */
    public long steps() {
        return step;
    }

    /** First moments by parameter name, for checkpoints. */
    public Map<String, NDArray> firstMoments() {
        return m;
    }

    /** Second moments by parameter name, for checkpoints. */
    public Map<String, NDArray> secondMoments() {
        return v;
    }

    /** Restores the state saved by a checkpoint. */
    public void restore(long steps, Map<String, float[]> firstMoments, Map<String, float[]> secondMoments) {
        this.step = steps;
        for (String name : params.keySet()) {
            m.get(name).set(require(firstMoments, name));
            v.get(name).set(require(secondMoments, name));
        }
    }

    private static float[] require(Map<String, float[]> values, String name) {
        float[] a = values.get(name);
        if (a == null) {
            throw new IllegalArgumentException("checkpoint has no optimizer state for " + name);
        }
        return a;
    }
}
