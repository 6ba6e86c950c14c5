package dev.switchback.trainer;

import ai.djl.ndarray.NDManager;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.trainer.model.Gpt;
import java.util.HashMap;
import java.util.Map;

/** Rebuilds a trainable {@link Gpt} from a verified model in the store (for evaluation and fine-tuning). */
public final class ModelLoader {
    private ModelLoader() {}

    public static Gpt load(NDManager manager, OpenedModel opened, double dropout) {
        ModelConfig config = opened.config();
        Map<String, float[]> tensors = new HashMap<>();
        SafetensorsFile weights = opened.weights();
        for (String name : weights.names()) {
            if (!name.equals(TensorNames.HASH_TABLE)) {
                tensors.put(name, weights.floats(name));
            }
        }
        for (int layer = 0; layer < config.layers(); layer++) {
            if (config.architecture().isSparseLayer(layer)) {
                SafetensorsFile f = opened.experts(layer);
                for (String name : f.names()) {
                    tensors.put(name, f.floats(name));
                }
            }
        }
        HashRouting hash = null;
        if (config.architecture().sparse() instanceof Architecture.Hash h) {
            int[] table = TensorNames.hasHashTable(config)
                    ? weights.ints(TensorNames.HASH_TABLE)
                    : HashRouting.build(h.table(), h.experts(), new long[config.vocabSize()], h.seed()).table();
            hash = new HashRouting(h.table(), h.experts(), table);
        }
        return Gpt.fromTensors(manager, config, dropout, hash, tensors);
    }
}
