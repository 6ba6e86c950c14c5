package dev.switchback.cli;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.RoutedCounts;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.PlacementStrategy;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.server.models.PlacementPlanner;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench placement}: how evenly each expert placement strategy spreads a model's routed tokens
 * over N devices. The model routes real text through the CPU engine; strategies that need data are planned on
 * the corpus's training split and judged on its validation split, as a server planning before it serves would be.
 */
@Command(name = "placement", mixinStandardHelpOptions = true,
        description = "Device load imbalance (max/mean tokens per device) of each expert placement strategy, from the model's "
                + "routing of the corpus: planned on the training split, measured on the validation split.")
final class PlacementBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption modelOption;

    @Option(names = "--corpus", paramLabel = "FILE", description = "Corpus (default: ../shared/corpus/kjv.txt.gz).")
    Path corpus;

    @Option(names = "--devices", defaultValue = "2,4", paramLabel = "N,...", description = "Device counts (default: ${DEFAULT-VALUE}).")
    String devices;

    @Option(names = "--tokens", defaultValue = "32768", paramLabel = "N",
            description = "Tokens routed from each split (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--spare-replicas", defaultValue = "-1", paramLabel = "N",
            description = "Extra expert copies per layer for the load strategy (default: one per device).")
    int spareReplicas;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (tokens < 1) {
            throw new IllegalArgumentException("--tokens must be >= 1, got " + tokens);
        }
        List<Integer> deviceCounts = BenchCommand.ints(devices);
        for (int n : deviceCounts) {
            if (n < 1) {
                throw new IllegalArgumentException("--devices: each count must be >= 1, got " + n);
            }
        }
        Path corpusFile = corpus != null ? corpus : Defaults.corpus();
        if (!Files.isRegularFile(corpusFile)) {
            throw new IllegalArgumentException("--corpus: file does not exist: " + corpusFile);
        }
        ModelStore store = modelOption.store(err);
        Path dir = modelOption.dir(store);
        try (OpenedModel opened = OpenedModel.open(dir)) {
            ModelConfig config = opened.config();
            if (config.architecture().sparse() == null) {
                throw new IllegalArgumentException("model " + opened.manifest().name() + " (" + config.architecture().kind()
                        + ") has no experts: there is nothing to place");
            }
            int experts = config.architecture().sparse().experts();
            BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            Corpus text = Corpus.load(corpusFile);
            int[] calibration = PlacementPlanner.firstTokens(tokenizer, text.trainTexts(), tokens);
            int[] validation = PlacementPlanner.firstTokens(tokenizer, text.validationTexts(), tokens);
            Engine engine = Engine.load(opened, Engine.Options.defaults().withMaxSequences(1));
            err.printf(Locale.ROOT, "routing %,d training and %,d validation tokens through %s…%n", calibration.length,
                    validation.length, opened.manifest().name());
            err.flush();
            long[][] planned = RoutedCounts.measure(engine, calibration, config.contextLength());
            long[][] served = RoutedCounts.measure(engine, validation, config.contextLength());
            HashRouting hash = engine.weights().hashRouting();
            int spare = spareReplicas;
            out.printf(Locale.ROOT, "model %s (%s, %d experts), %s: planned on %,d training tokens, measured on %,d validation tokens%n",
                    opened.manifest().name(), config.architecture().kind(), experts, corpusFile.getFileName(), calibration.length,
                    validation.length);
            out.println("| layer | devices | strategy | experts per device | device imbalance, planned | device imbalance, served |");
            out.println("|---:|---:|---|---|---:|---:|");
            for (int l = 0; l < config.layers(); l++) {
                if (!config.architecture().isSparseLayer(l)) {
                    continue;
                }
                out.printf(Locale.ROOT, "| %d | – | (experts: max/mean tokens per expert) | – | %.2f | %.2f |%n", l,
                        LayerPlacement.imbalance(planned[l]), LayerPlacement.imbalance(served[l]));
                for (int n : deviceCounts) {
                    for (PlacementStrategy s : PlacementStrategy.values()) {
                        LayerPlacement p = switch (s) {
                            case ROUND_ROBIN -> Placements.roundRobin(experts, n);
                            case LOAD -> Placements.load(planned[l], n, spare >= 0 ? spare : n);
                            case STATIC_BALANCED -> hash == null ? null : Placements.staticBalanced(hash, calibration, n);
                        };
                        if (p == null) {
                            continue; // static-balanced needs a fixed routing table
                        }
                        out.printf(Locale.ROOT, "| %d | %d | %s | %s | %.3f | %.3f |%n", l, n, s.flag(),
                                Arrays.toString(p.expertsPerDevice()), LayerPlacement.imbalance(p.deviceLoad(planned[l])),
                                LayerPlacement.imbalance(p.deviceLoad(served[l])));
                    }
                }
            }
            out.flush();
        }
        return 0;
    }
}
