package dev.switchback.trainer;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A resumable snapshot of training: parameters and AdamW moments in float32 safetensors, and the step counters.
 * The data position and dropout masks are functions of the step, so these are all a resumed run needs to
 * continue exactly. Written to a temporary folder and renamed, so a crash never leaves a half checkpoint.
 */
public final class Checkpoint {
    private static final String WEIGHTS = "weights.safetensors";
    private static final String OPTIMIZER = "optimizer.safetensors";
    private static final String STATE = "state.json";
    private static final String PREFIX = "step-";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The counters saved beside the tensors. */
    record State(int step, long optimizerSteps, String config) {}

    private Checkpoint() {}

    /** Saves {@code trainer}'s state under {@code dir/step-<n>} and keeps only the newest {@code keep} checkpoints. */
    public static Path save(Trainer trainer, Path dir, int keep) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve(".tmp-" + UUID.randomUUID());
        Files.createDirectories(tmp);
        try {
            List<TensorData> weights = new ArrayList<>();
            for (var e : trainer.model().parameters().all().entrySet()) {
                weights.add(f32(e.getKey(), e.getValue()));
            }
            SafetensorsWriter.write(tmp.resolve(WEIGHTS), weights, Map.of("format", "switchback-checkpoint"));
            List<TensorData> moments = new ArrayList<>();
            for (var e : trainer.optimizer().firstMoments().entrySet()) {
                moments.add(f32("m." + e.getKey(), e.getValue()));
            }
            for (var e : trainer.optimizer().secondMoments().entrySet()) {
                moments.add(f32("v." + e.getKey(), e.getValue()));
            }
            SafetensorsWriter.write(tmp.resolve(OPTIMIZER), moments, Map.of());
            State state = new State(trainer.completedSteps(), trainer.optimizer().steps(), trainer.config().toJson());
            Files.writeString(tmp.resolve(STATE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
            Path target = dir.resolve(PREFIX + String.format("%08d", trainer.completedSteps()));
            if (Files.exists(target)) {
                deleteTree(target);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            prune(dir, keep);
            return target;
        } finally {
            if (Files.exists(tmp)) {
                deleteTree(tmp);
            }
        }
    }

    /** The newest complete checkpoint in {@code dir}, if any. */
    public static java.util.Optional<Path> latest(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return java.util.Optional.empty();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(PREFIX) && Files.isRegularFile(p.resolve(STATE)))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
    }

    /**
     * Restores a checkpoint into {@code trainer}, which must have been built from the same configuration.
     *
     * @return the step the checkpoint was taken after
     */
    public static int restore(Trainer trainer, Path checkpoint) throws IOException {
        State state = JSON.readValue(checkpoint.resolve(STATE).toFile(), State.class);
        TrainConfig saved = TrainConfig.parse(state.config());
        if (!saved.model().equals(trainer.config().model())) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " is of a different model than the configuration");
        }
        Map<String, float[]> weights = readAll(checkpoint.resolve(WEIGHTS), "");
        trainer.model().parameters().load(weights);
        trainer.optimizer().restore(state.optimizerSteps(), readAll(checkpoint.resolve(OPTIMIZER), "m."),
                readAll(checkpoint.resolve(OPTIMIZER), "v."));
        trainer.resumeAt(state.step());
        return state.step();
    }

    private static Map<String, float[]> readAll(Path file, String prefix) throws IOException {
        Map<String, float[]> out = new HashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                if (name.startsWith(prefix)) {
                    out.put(name.substring(prefix.length()), f.floats(name));
                }
            }
        }
        return out;
    }

    private static TensorData f32(String name, NDArray a) {
        return TensorData.ofFloats(name, a.getShape().getShape(), a.toFloatArray(), DType.F32);
    }

    private static void prune(Path dir, int keep) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.list(dir)) {
            all = s.filter(p -> p.getFileName().toString().startsWith(PREFIX)).sorted().toList();
        }
        for (int i = 0; i < all.size() - keep; i++) {
            deleteTree(all.get(i));
        }
    }

    /** Deletes a folder and everything under it. */
    public static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
