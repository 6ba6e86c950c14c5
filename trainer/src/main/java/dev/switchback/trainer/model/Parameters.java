package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The trainable tensors of a model by their store names (see the model-store naming convention), in a fixed
 * order. Initial values come from a Java RNG so a seed gives the same model on every machine.
 */
public final class Parameters implements AutoCloseable {
    private final NDManager manager;
    private final Map<String, NDArray> byName = new LinkedHashMap<>();

    public Parameters(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /** The manager owning the parameters (and the optimizer's state). */
    public NDManager manager() {
        return manager;
    }

    /** Adds a parameter with the given values; it records gradients. */
    public NDArray add(String name, float[] values, long... shape) {
        if (byName.containsKey(name)) {
            throw new IllegalArgumentException("duplicate parameter " + name);
        }
        NDArray a = Host.floats(manager, values, new Shape(shape));
        a.setName(name);
        a.setRequiresGradient(true);
        byName.put(name, a);
        return a;
    }

    /** The parameter called {@code name}; fails naming it if absent. */
    public NDArray get(String name) {
        NDArray a = byName.get(name);
        if (a == null) {
            throw new IllegalArgumentException("no parameter named " + name);
        }
        return a;
    }

    /** All parameters in creation order. */
    public Map<String, NDArray> all() {
        return Collections.unmodifiableMap(byName);
    }

    /** Number of scalar values over all parameters. */
    public long count() {
        long n = 0;
        for (NDArray a : byName.values()) {
            n += a.size();
        }
        return n;
    }

    /** Replaces every parameter's values (e.g. from a checkpoint); shapes must match. */
    public void load(Map<String, float[]> values) {
        for (var e : byName.entrySet()) {
            float[] v = values.get(e.getKey());
            if (v == null) {
                throw new IllegalArgumentException("missing tensor " + e.getKey());
            }
            if (v.length != e.getValue().size()) {
                throw new IllegalArgumentException("tensor " + e.getKey() + " has " + v.length + " values, expected "
                        + e.getValue().getShape());
            }
            e.getValue().set(v);
        }
    }

    @Override
    public void close() {
        manager.close();
    }

    /** Truncated normal (cut at ±2σ) values, as in the Switch Transformer's initialisation. */
    static float[] truncatedNormal(SplittableRandom rng, int n, double sigma) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double z;
            do {
                z = gaussian(rng);
            } while (Math.abs(z) > 2);
            out[i] = (float) (z * sigma);
        }
        return out;
    }

    static float[] filled(int n, float value) {
        float[] out = new float[n];
        java.util.Arrays.fill(out, value);
        return out;
    }

    private static double gaussian(SplittableRandom rng) {
        // Box–Muller; SplittableRandom has no nextGaussian with a stable algorithm across JDKs.
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
