package dev.switchback.server.models;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.sampling.Sample;
import dev.switchback.kernels.sampling.Sampler;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.kernels.sampling.TokenHistory;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Publication;
import dev.switchback.store.TensorNames;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Published models a server can serve in tests: a {@link TinyModels} folder given a real byte-level BPE tokenizer
 * (TinyModels' is a stub) and weights scaled so the logits spread by O(1): TinyModels' 0.02-scale weights leave
 * the logits so flat that greedy decoding would hinge on float rounding.
 */
public final class ServableModels {
    /** Context length of every model here. */
    public static final int CONTEXT = 128;

    private static final String CORPUS = """
            In the beginning the server loaded its models, and the models were small and random.
            Every request waited in the queue until the scheduler admitted it into the running batch.
            The scheduler computed one token for every sequence that was decoding, then chunks of prompts.
            When the cache of keys and values was full, the newest sequence was preempted and recomputed later.
            Experts were chosen by the router; the hash layers chose them by the token itself.
            """;
    private static BpeTokenizer tokenizer;

    private ServableModels() {}

    /** A byte-level BPE tokenizer of a few hundred tokens, {@code <|endoftext|>} being id 0. */
    public static synchronized BpeTokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = BpeTokenizer.train(List.of(CORPUS), 330, List.of(), null);
        }
        return tokenizer;
    }

    /** Switch experts in block 1 with a capacity that never drops a token, so batching cannot change a result. */
    public static Architecture switchUnbounded() {
        return new Architecture.Switch(4, 2, 1.25, 100.0, 0.01, 1e-3, 0.1, 0.0);
    }

    public static Architecture hash() {
        return new Architecture.Hash(3, 1, Architecture.HashKind.random, 7, 0.0);
    }

    /** Width 16, 2 blocks of 2 heads, FFN 32, context {@value #CONTEXT}, the tokenizer's vocabulary. */
    public static ModelConfig config(Architecture architecture) {
        return new ModelConfig(tokenizer().vocabSize(), 16, 2, 2, 32, CONTEXT, false, 10000, 1e-5, architecture);
    }

    /** Publishes a new version of {@code name}; returns its folder. */
    public static Path publish(ModelStore store, String name, Architecture architecture, long seed) {
        return publish(store, name, config(architecture), seed);
    }

    /** Publishes a new version of {@code name} with any config (its vocabulary at least the tokenizer's); returns its folder. */
    public static Path publish(ModelStore store, String name, ModelConfig config, long seed) {
        try (Publication p = store.begin(name)) {
            TinyModels.write(p.dir(), name, config, DType.F32, seed);
            tokenizer().save(p.dir().resolve(ModelFiles.TOKENIZER));
            writeWeights(p.dir(), config, seed);
            return p.commit().dir();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An engine of its own over a published folder, for reference results. */
    public static Engine engine(ModelStore store, Path dir) {
        try (OpenedModel opened = store.open(dir)) {
            return Engine.load(opened, Engine.Options.defaults().withMaxSequences(2));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What a plain loop on the engine generates: whole-prompt prefill, then one token at a time. */
    public static List<Integer> generate(Engine engine, String prompt, SamplingParams params) {
        int[] tokens = tokenizer().encode(prompt);
        int endOfText = tokenizer().endOfTextId();
        Sampler sampler = new Sampler(params);
        TokenHistory history = new TokenHistory();
        history.addAll(tokens);
        List<Integer> out = new ArrayList<>();
        try (Sequence s = engine.newSequence()) {
            float[] logits = engine.prefill(s, tokens);
            while (true) {
                Sample next = sampler.next(logits, 0, engine.config().vocabSize(), history);
                out.add(next.token());
                history.add(next.token());
                if (next.token() == endOfText || out.size() == params.maxTokens()) {
                    return out;
                }
                logits = engine.forward(List.of(new Engine.Step(s, new int[] {next.token()})))[0];
            }
        }
    }

    /** The scheduler's stats once it has nothing running or waiting and every block not cached is free (10 s at most). */
    public static Scheduler.Stats awaitIdle(Scheduler scheduler) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            Scheduler.Stats s = scheduler.stats();
            if (s.inFlight() == 0 && s.running() == 0 && s.waiting() == 0 && s.freeKvBlocks() + s.prefixCachedBlocks() == s.totalKvBlocks()) {
                return s;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("scheduler did not go idle: " + s);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** Matrices N(0, 1/fan-in), norm gains 1 ± 0.1, embeddings N(0, 1); hash tables as TinyModels draws them. */
    private static void writeWeights(Path dir, ModelConfig config, long seed) throws IOException {
        Random random = new Random(seed);
        SafetensorsWriter.write(dir.resolve(ModelFiles.WEIGHTS), tensors(TensorNames.sharedShapes(config), config, random),
                Map.of("format", "pt"));
        for (int layer = 0; layer < config.layers(); layer++) {
            if (config.architecture().isSparseLayer(layer)) {
                SafetensorsWriter.write(dir.resolve(ModelFiles.experts(layer)),
                        tensors(TensorNames.expertShapes(config, layer), config, random), Map.of());
            }
        }
    }

    private static List<TensorData> tensors(Map<String, long[]> shapes, ModelConfig config, Random random) {
        List<TensorData> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] shape = e.getValue();
            int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            if (e.getKey().equals(TensorNames.HASH_TABLE)) {
                out.add(TensorData.ofInts(e.getKey(), shape, random.ints(n, 0, config.architecture().sparse().experts()).toArray()));
                continue;
            }
            boolean gain = shape.length == 1;
            boolean embedding = e.getKey().equals(TensorNames.TOK_EMB);
            double sigma = gain ? 0.1 : embedding ? 1 : 1 / Math.sqrt(shape[shape.length - 1]);
            float[] values = new float[n];
            for (int i = 0; i < n; i++) {
                values[i] = (float) ((gain ? 1 : 0) + random.nextGaussian() * sigma);
            }
            out.add(TensorData.ofFloats(e.getKey(), shape, values, DType.F32));
        }
        return out;
    }
}
