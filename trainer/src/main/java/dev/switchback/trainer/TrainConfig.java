package dev.switchback.trainer;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.switchback.store.model.ConfigException;
import dev.switchback.store.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A training run's configuration file: the model, the optimisation schedule and the data.
 *
 * @param name model name used when publishing to the store
 * @param model the network
 * @param training optimisation settings
 * @param data corpus and tokenizer
 */
public record TrainConfig(String name, ModelConfig model, Training training, Data data) {

    public TrainConfig {
        if (name == null || name.isBlank() || !name.matches("[A-Za-z0-9._-]+")) {
            throw new ConfigException("name", "must be a non-empty name of letters, digits, '.', '_' or '-', got " + name);
        }
        if (model == null) {
            throw new ConfigException("model", "is required");
        }
        if (training == null) {
            throw new ConfigException("training", "is required");
        }
        if (data == null) {
            throw new ConfigException("data", "is required");
        }
        if (training.seqLen() > model.contextLength()) {
            throw new ConfigException(
                    "training.seqLen", "must be <= model.contextLength=" + model.contextLength() + ", got " + training.seqLen());
        }
    }

    /**
     * Optimisation settings: AdamW with linear warm-up then cosine decay to {@code minLrRatio × lr}.
     *
     * @param steps optimizer steps
     * @param batchSize sequences per step
     * @param seqLen tokens per sequence
     * @param lr peak learning rate
     * @param minLrRatio final learning rate as a fraction of the peak
     * @param warmupSteps linear warm-up length
     * @param weightDecay decoupled weight decay applied to matrices
     * @param beta1 Adam β1
     * @param beta2 Adam β2
     * @param gradClip global gradient-norm clip (0 disables)
     * @param dropout residual dropout
     * @param seed seed of initialisation, data order and dropout
     * @param evalEvery steps between validation evaluations (0: only at the end)
     * @param evalTokens validation tokens per evaluation (0: the whole split)
     * @param checkpointEvery steps between checkpoints (0: none)
     */
    public record Training(
            int steps,
            int batchSize,
            int seqLen,
            double lr,
            double minLrRatio,
            int warmupSteps,
            double weightDecay,
            double beta1,
            double beta2,
            double gradClip,
            double dropout,
            long seed,
            int evalEvery,
            int evalTokens,
            int checkpointEvery) {
        public Training {
            positive("training.steps", steps);
            positive("training.batchSize", batchSize);
            positive("training.seqLen", seqLen);
            if (!(lr > 0 && lr < 1)) {
                throw new ConfigException("training.lr", "must be in (0, 1), got " + lr);
            }
            if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
                throw new ConfigException("training.minLrRatio", "must be in [0, 1], got " + minLrRatio);
            }
            nonNegative("training.warmupSteps", warmupSteps);
            if (!(weightDecay >= 0)) {
                throw new ConfigException("training.weightDecay", "must be >= 0, got " + weightDecay);
            }
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new ConfigException("training.beta1", "must be in [0, 1), got " + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new ConfigException("training.beta2", "must be in [0, 1), got " + beta2);
            }
            if (!(gradClip >= 0)) {
                throw new ConfigException("training.gradClip", "must be >= 0, got " + gradClip);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new ConfigException("training.dropout", "must be in [0, 1), got " + dropout);
            }
            nonNegative("training.evalEvery", evalEvery);
            nonNegative("training.evalTokens", evalTokens);
            nonNegative("training.checkpointEvery", checkpointEvery);
        }

        /** A copy with a different step count (the {@code --steps} override). */
        public Training withSteps(int newSteps) {
            return new Training(newSteps, batchSize, seqLen, lr, minLrRatio, Math.min(warmupSteps, newSteps), weightDecay,
                    beta1, beta2, gradClip, dropout, seed, evalEvery, evalTokens, checkpointEvery);
        }

        /** Tokens consumed per optimizer step. */
        public long tokensPerStep() {
            return (long) batchSize * seqLen;
        }
    }

    /**
     * Where the text comes from and how it is tokenized.
     *
     * @param corpus corpus file (.txt or .txt.gz); relative paths resolve against the working directory
     * @param tokenizer an existing {@code tokenizer.json}, or null to train one on the corpus's training split
     * @param vocab vocabulary size of a tokenizer trained here (must equal {@code model.vocabSize})
     */
    public record Data(String corpus, String tokenizer, int vocab) {
        public Data {
            if (corpus == null || corpus.isBlank()) {
                throw new ConfigException("data.corpus", "is required");
            }
        }
    }

    /** Reads and validates a configuration file; every problem is a {@link ConfigException} naming the field. */
    public static TrainConfig load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("--config", "file does not exist: " + file);
        }
        try {
            return MAPPER.readValue(file.toFile(), TrainConfig.class);
        } catch (JsonMappingException e) {
            throw explain(file, e);
        }
    }

    /** Parses a configuration from JSON text (tests and embedded configs). */
    public static TrainConfig parse(String json) throws IOException {
        try {
            return MAPPER.readValue(json, TrainConfig.class);
        } catch (JsonMappingException e) {
            throw explain(null, e);
        }
    }

    /** Checks that the corpus and tokenizer files exist, before any training work starts. */
    public void checkFiles() {
        if (!Files.isRegularFile(Path.of(data.corpus()))) {
            throw new ConfigException("data.corpus", "file does not exist: " + data.corpus());
        }
        if (data.tokenizer() != null && !Files.isRegularFile(Path.of(data.tokenizer()))) {
            throw new ConfigException("data.tokenizer", "file does not exist: " + data.tokenizer());
        }
        if (data.tokenizer() == null && data.vocab() != model.vocabSize()) {
            throw new ConfigException(
                    "data.vocab", "must equal model.vocabSize=" + model.vocabSize() + " to train a tokenizer, got " + data.vocab());
        }
    }

    /** The JSON form of this configuration. */
    public String toJson() {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES);

    private static ConfigException explain(Path file, JsonMappingException e) {
        Throwable cause = e;
        while (cause != null) {
            if (cause instanceof ConfigException c) {
                return c;
            }
            cause = cause.getCause();
        }
        String field = pathOf(e);
        if (e instanceof InvalidTypeIdException t) {
            return new ConfigException(field.isEmpty() ? "architecture.kind" : field + ".kind",
                    "unknown architecture '" + t.getTypeId() + "' (expected dense, switch, topk, hash or ladder)");
        }
        if (e instanceof UnrecognizedPropertyException u) {
            return new ConfigException(field, "unknown field '" + u.getPropertyName() + "'");
        }
        String reason = e.getOriginalMessage();
        int cut = reason.indexOf('\n');
        return new ConfigException(field.isEmpty() ? String.valueOf(file) : field, cut < 0 ? reason : reason.substring(0, cut));
    }

    private static String pathOf(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    private static void positive(String field, long v) {
        if (v <= 0) {
            throw new ConfigException(field, "must be > 0, got " + v);
        }
    }

    private static void nonNegative(String field, long v) {
        if (v < 0) {
            throw new ConfigException(field, "must be >= 0, got " + v);
        }
    }
}
