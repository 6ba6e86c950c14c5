package dev.switchback.distill;

import dev.switchback.store.ModelStore;
import dev.switchback.store.Provenance;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.trainer.ModelPublisher;
import dev.switchback.trainer.TrainConfig;
import dev.switchback.trainer.Trainer;
import dev.switchback.trainer.data.TokenData;
import dev.switchback.trainer.data.TokenizedCorpus;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Tiny teachers and students for fast tests: a 32-wide, 2-block GPT, trained for a few steps. */
final class Teachers {
    static final Path CORPUS = Path.of("../trainer/src/test/resources/kjv-excerpt.txt").toAbsolutePath().normalize();
    static final int VOCAB = 300;

    private Teachers() {}

    static Architecture switchArch() {
        return new Architecture.Switch(4, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0);
    }

    static Architecture hashArch() {
        return new Architecture.Hash(4, 2, Architecture.HashKind.balanced, 7, 0.0);
    }

    static Architecture ladderArch() {
        return new Architecture.Ladder(2, new Architecture.Dense());
    }

    static ModelConfig model(Architecture arch, int vocab) {
        return new ModelConfig(vocab, 32, 2, 2, 64, 32, true, 10000, 1e-5, arch);
    }

    static TrainConfig.Training training(int steps) {
        return new TrainConfig.Training(steps, 4, 32, 3e-3, 0.1, 2, 0.01, 0.9, 0.99, 1.0, 0.0, 11, 2, 1024, 0);
    }

    /** The routing table a hash architecture trains with on {@code train} tokens (null for other kinds). */
    static HashRouting hashFor(Architecture arch, int[] train, int vocab) {
        return arch.sparse() instanceof Architecture.Hash h
                ? HashRouting.build(h.table(), h.experts(), TokenizedCorpus.counts(train, vocab), h.seed())
                : null;
    }

    /** Trains a teacher of {@code arch} for {@code steps} on the KJV excerpt and publishes it as {@code name}. */
    static PublishedModel publish(Path store, Path cache, String name, Architecture arch, int steps) throws IOException {
        TokenizedCorpus corpus = TokenizedCorpus.prepare(CORPUS, null, VOCAB, cache, new PrintWriter(new StringWriter()));
        TrainConfig config = new TrainConfig(name, model(arch, VOCAB), training(steps), new TrainConfig.Data(CORPUS.toString(), null, VOCAB));
        try (Trainer trainer = new Trainer(config, corpus.data(), hashFor(arch, corpus.data().train(), VOCAB))) {
            for (int i = 0; i < steps; i++) {
                trainer.step();
            }
            Provenance p = new Provenance(CORPUS.toString(), corpus.corpus().sha256(), steps, steps * config.training().tokensPerStep(),
                    null, null, null, "test", null, null);
            return ModelPublisher.publish(new ModelStore(store), name, trainer.model(), corpus.tokenizer(), DType.F32, p);
        }
    }

    /** A dense student configuration file over the excerpt (tokenizer trained on it, like the teachers'). */
    static Path studentConfig(Path dir, String architecture, int vocab, int steps) throws IOException {
        String json = """
                {"name": "student-tiny",
                 "model": {"vocabSize": VOCAB, "dModel": 32, "layers": 2, "heads": 2, "dFf": 64, "contextLength": 32,
                           "tiedEmbeddings": true, "ropeTheta": 10000, "normEps": 1e-5, "architecture": ARCH},
                 "training": {"steps": STEPS, "batchSize": 4, "seqLen": 32, "lr": 0.003, "minLrRatio": 0.1, "warmupSteps": 2,
                              "weightDecay": 0.01, "beta1": 0.9, "beta2": 0.99, "gradClip": 1.0, "dropout": 0.0, "seed": 5,
                              "evalEvery": 2, "evalTokens": 1024, "checkpointEvery": 0},
                 "data": {"corpus": "CORPUS", "tokenizer": null, "vocab": VOCAB}}
                """.replace("ARCH", architecture).replace("CORPUS", CORPUS.toString()).replace("VOCAB", String.valueOf(vocab))
                .replace("STEPS", String.valueOf(steps));
        return Files.writeString(dir.resolve("student-" + Math.abs(json.hashCode()) + ".json"), json);
    }

    /** A stream where the next token is mostly a function of the previous one: learnable by a tiny model. */
    static TokenData syntheticData(int vocab) {
        SplittableRandom rng = new SplittableRandom(1);
        int[] all = new int[12_000];
        all[0] = 1;
        for (int i = 1; i < all.length; i++) {
            all[i] = rng.nextInt(10) == 0 ? rng.nextInt(vocab) : (all[i - 1] * 5 + 3) % vocab;
        }
        int split = all.length * 9 / 10;
        return new TokenData(java.util.Arrays.copyOf(all, split), java.util.Arrays.copyOfRange(all, split, all.length));
    }
}
