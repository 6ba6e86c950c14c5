package dev.switchback.trainer;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.trainer.data.TokenData;
import java.util.SplittableRandom;

/** Tiny models and a learnable synthetic token stream for fast tests. */
final class Fixtures {
    static final int VOCAB = 64;

    private Fixtures() {}

    static Architecture switchArch() {
        return new Architecture.Switch(4, 1, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0);
    }

    static Architecture topkArch() {
        return new Architecture.TopK(4, 2, 1, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0);
    }

    static Architecture hashArch() {
        return new Architecture.Hash(4, 1, Architecture.HashKind.balanced, 7, 0.0);
    }

    static Architecture[] allArchitectures() {
        return new Architecture[] {
            new Architecture.Dense(), switchArch(), topkArch(), hashArch(),
            new Architecture.Ladder(2, new Architecture.Dense()), new Architecture.Ladder(2, hashArch()),
            new Architecture.Ladder(2, switchArch())
        };
    }

    static ModelConfig model(Architecture arch) {
        return new ModelConfig(VOCAB, 32, 2, 2, 64, 32, true, 10000, 1e-5, arch);
    }

    static TrainConfig config(Architecture arch, int steps, double dropout) {
        return new TrainConfig("tiny-" + arch.kind(), model(arch),
                new TrainConfig.Training(steps, 8, 16, 3e-3, 0.1, 5, 0.01, 0.9, 0.99, 1.0, dropout, 42, 0, 512, 0),
                new TrainConfig.Data("unused", null, VOCAB));
    }

    /** A stream where the next token is mostly a function of the previous one: learnable by a tiny model. */
    static TokenData data() {
        SplittableRandom rng = new SplittableRandom(1);
        int[] all = new int[24_000];
        all[0] = 1;
        all[1] = 2;
        for (int i = 2; i < all.length; i++) {
            all[i] = rng.nextInt(10) == 0 ? rng.nextInt(VOCAB) : (all[i - 1] * 5 + 3) % VOCAB;
        }
        int split = all.length * 9 / 10;
        return new TokenData(java.util.Arrays.copyOf(all, split), java.util.Arrays.copyOfRange(all, split, all.length));
    }

    static HashRouting hashFor(Architecture arch, TokenData data) {
        if (!(arch.sparse() instanceof Architecture.Hash h)) {
            return null;
        }
        long[] counts = new long[VOCAB];
        for (int t : data.train()) {
            counts[t]++;
        }
        return HashRouting.build(h.table(), h.experts(), counts, h.seed());
    }

    static Trainer trainer(Architecture arch, int steps, double dropout) {
        TokenData data = data();
        return new Trainer(config(arch, steps, dropout), data, hashFor(arch, data));
    }
}
