package dev.switchback.kernels.engine;

import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which {@link Backend}s compute each expert of each sparse layer. Tokens routed to an expert are computed on its
 * backend; an expert with replicas on several backends has each step's tokens split between them
 * ({@link LayerPlacement}). The engine combines the results.
 */
public final class ExpertPlacement {
    private final List<Backend> backends;
    private final int experts;
    /** [layer][expert] → the backends holding that expert, first replica first (the engine asks at every step). */
    private final List<List<List<Backend>>> replicas;

    /** @param replicas [layer][expert] → indices into {@code backends}, first replica first */
    private ExpertPlacement(List<Backend> backends, int experts, int[][][] replicas) {
        this.backends = List.copyOf(backends);
        this.experts = experts;
        List<List<List<Backend>>> byLayer = new ArrayList<>();
        for (int[][] layer : replicas) {
            List<List<Backend>> byExpert = new ArrayList<>();
            for (int[] devices : layer) {
                byExpert.add(java.util.Arrays.stream(devices).mapToObj(this.backends::get).toList());
            }
            byLayer.add(List.copyOf(byExpert));
        }
        this.replicas = List.copyOf(byLayer);
    }

    /** Every expert on one backend. */
    public static ExpertPlacement single(Backend backend, int layers, int experts) {
        int[][][] replicas = new int[layers][Math.max(experts, 0)][];
        for (int[][] layer : replicas) {
            java.util.Arrays.fill(layer, new int[] {0});
        }
        return new ExpertPlacement(List.of(backend), experts, replicas);
    }

    /** Experts spread evenly, expert e of every layer on backend {@code e mod backends} (expert parallelism). */
    public static ExpertPlacement roundRobin(List<Backend> backends, int layers, int experts) {
        if (backends.isEmpty()) {
            throw new IllegalArgumentException("no backends to place experts on");
        }
        LayerPlacement[] byLayer = new LayerPlacement[layers];
        java.util.Arrays.fill(byLayer, Placements.roundRobin(experts, backends.size()));
        return of(backends, experts, byLayer);
    }

    /**
     * Layer l's experts on {@code backends} as {@code byLayer[l]} places them (device i = backend i); a null entry
     * (a dense layer) puts that layer's experts, if any, on the first backend.
     */
    public static ExpertPlacement of(List<Backend> backends, int experts, LayerPlacement[] byLayer) {
        if (backends.isEmpty()) {
            throw new IllegalArgumentException("no backends to place experts on");
        }
        int[][][] replicas = new int[byLayer.length][experts][];
        for (int l = 0; l < byLayer.length; l++) {
            LayerPlacement p = byLayer[l];
            if (p != null && (p.devices() != backends.size() || p.experts() != experts)) {
                throw new IllegalArgumentException("layer " + l + " places " + p.experts() + " experts on " + p.devices()
                        + " devices; the model has " + experts + " experts and there are " + backends.size() + " backends");
            }
            for (int e = 0; e < experts; e++) {
                replicas[l][e] = p == null ? new int[] {0} : p.devicesOf(e);
            }
        }
        return new ExpertPlacement(backends, experts, replicas);
    }

    /** The backend that computes expert {@code expert} of layer {@code layer} (its first replica). */
    public Backend backend(int layer, int expert) {
        return replicas(layer, expert).getFirst();
    }

    /** Every backend holding expert {@code expert} of layer {@code layer}; each takes an equal share of its tokens. */
    public List<Backend> replicas(int layer, int expert) {
        return replicas.get(layer).get(expert);
    }

    public List<Backend> backends() {
        return backends;
    }

    /** Layers this placement covers. */
    public int layers() {
        return replicas.size();
    }

    /** Experts per layer this placement covers. */
    public int experts() {
        return experts;
    }

    /** Device name → experts it holds as "layer:expert" strings, for logs and the server's model card. */
    public Map<String, List<String>> describe() {
        Map<String, List<String>> out = new TreeMap<>();
        for (int l = 0; l < replicas.size(); l++) {
            for (int e = 0; e < experts; e++) {
                for (Backend b : replicas(l, e)) {
                    out.computeIfAbsent(b.device(), k -> new ArrayList<>()).add(l + ":" + e);
                }
            }
        }
        return out;
    }
}
