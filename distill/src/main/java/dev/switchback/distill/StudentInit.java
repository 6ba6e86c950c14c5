package dev.switchback.distill;

import ai.djl.ndarray.NDArray;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.trainer.model.Gpt;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Initialises a dense student from its teacher (Switch Transformer §5): every student tensor whose name and shape
 * the teacher also has is copied (embeddings, attention, norms, output, dense FFNs — all blocks of a Ladder's
 * shared stack); the FFN of a block that is sparse in the teacher comes from its experts, averaged or expert 0;
 * the rest (routers have no student counterpart; blocks deeper than the teacher's) keeps its random initialisation.
 */
public final class StudentInit {
    private StudentInit() {}

    /**
     * Which student tensors came from where.
     *
     * @param copied copied unchanged from the teacher's tensor of the same name
     * @param fromExperts dense FFN tensors built from a sparse block's experts
     * @param random left at the student's random initialisation
     */
    public record Summary(List<String> copied, List<String> fromExperts, List<String> random) {
        public Summary {
            copied = List.copyOf(copied);
            fromExperts = List.copyOf(fromExperts);
            random = List.copyOf(random);
        }

        /** One line for the log, e.g. "30 tensors copied, 4 FFN tensors from the experts' mean, 0 left random". */
        public String describe(FfnInit ffn) {
            return String.format("%d tensors copied, %d FFN tensors from %s, %d left random%s", copied.size(), fromExperts.size(),
                    ffn == FfnInit.MEAN ? "the experts' mean" : "expert 0", random.size(), random.isEmpty() ? "" : " " + random);
        }
    }

    /** Overwrites {@code student}'s parameters with values taken from {@code teacher}; both keep their own arrays. */
    public static Summary apply(Gpt teacher, Gpt student, FfnInit ffn) {
        Map<String, NDArray> source = teacher.parameters().all();
        Map<String, List<String>> expertSources = expertSources(teacher.config(), student.config(), ffn);
        List<String> copied = new ArrayList<>();
        List<String> fromExperts = new ArrayList<>();
        List<String> random = new ArrayList<>();
        for (var e : student.parameters().all().entrySet()) {
            String name = e.getKey();
            NDArray target = e.getValue();
            NDArray same = source.get(name);
            List<String> experts = expertSources.get(name);
            if (same != null && same.getShape().equals(target.getShape())) {
                target.set(same.toFloatArray());
                copied.add(name);
            } else if (experts != null && source.get(experts.getFirst()).getShape().equals(target.getShape())) {
                target.set(mean(experts, source));
                fromExperts.add(name);
            } else {
                random.add(name);
            }
        }
        return new Summary(copied, fromExperts, random);
    }

    /** Dense FFN tensor name → the expert tensors it is built from, for blocks sparse in the teacher. */
    private static Map<String, List<String>> expertSources(ModelConfig teacher, ModelConfig student, FfnInit ffn) {
        Map<String, List<String>> sources = new HashMap<>();
        for (int layer = 0; layer < Math.min(teacher.layers(), student.layers()); layer++) {
            if (!teacher.architecture().isSparseLayer(layer)) {
                continue;
            }
            int experts = ffn == FfnInit.MEAN ? teacher.architecture().sparse().experts() : 1;
            List<String> w1 = new ArrayList<>();
            List<String> w2 = new ArrayList<>();
            for (int e = 0; e < experts; e++) {
                w1.add(TensorNames.expertW1(layer, e));
                w2.add(TensorNames.expertW2(layer, e));
            }
            sources.put(TensorNames.ffnW1(layer), w1);
            sources.put(TensorNames.ffnW2(layer), w2);
        }
        return sources;
    }

    /** Element-wise mean of the named tensors (accumulated in double); one name gives an exact copy. */
    private static float[] mean(List<String> names, Map<String, NDArray> source) {
        double[] sum = null;
        for (String name : names) {
            float[] v = source.get(name).toFloatArray();
            if (sum == null) {
                sum = new double[v.length];
            }
            for (int i = 0; i < v.length; i++) {
                sum[i] += v[i];
            }
        }
        float[] out = new float[sum.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (sum[i] / names.size());
        }
        return out;
    }
}
