package dev.switchback.kernels.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which {@link Backend} computes each expert of each sparse layer. Tokens routed to an expert are computed
 * on its backend; the engine combines the results.
 */
public final class ExpertPlacement {
    private final List<Backend> backends;
    private final int experts;
    private final int[][] device;

    private ExpertPlacement(List<Backend> backends, int layers, int experts, int[][] device) {
        this.backends = List.copyOf(backends);
        this.experts = experts;
        this.device = device;
        for (int[] row : device) {
            for (int b : row) {
                if (b < 0 || b >= backends.size()) {
                    throw new IllegalArgumentException("placement names backend " + b + " of " + backends.size());
                }
            }
        }
    }

    /** Every expert on one backend. */
    public static ExpertPlacement single(Backend backend, int layers, int experts) {
        return new ExpertPlacement(List.of(backend), layers, experts, new int[layers][Math.max(experts, 0)]);
    }

    /** Experts spread evenly, expert e of every layer on backend {@code e mod backends} (expert parallelism). */
    public static ExpertPlacement roundRobin(List<Backend> backends, int layers, int experts) {
        if (backends.isEmpty()) {
            throw new IllegalArgumentException("no backends to place experts on");
        }
        int[][] device = new int[layers][experts];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                device[l][e] = e % backends.size();
            }
        }
        return new ExpertPlacement(backends, layers, experts, device);
    }

    /** The backend that computes expert {@code expert} of layer {@code layer}. */
    public Backend backend(int layer, int expert) {
        return backends.get(device[layer][expert]);
    }

    public List<Backend> backends() {
        return backends;
    }

    /** Device name → experts it holds as "layer:expert" strings, for logs and the server's model card. */
    public Map<String, List<String>> describe() {
        Map<String, List<String>> out = new TreeMap<>();
        for (int l = 0; l < device.length; l++) {
            for (int e = 0; e < experts; e++) {
                out.computeIfAbsent(backend(l, e).device(), k -> new ArrayList<>()).add(l + ":" + e);
            }
        }
        return out;
    }
}
