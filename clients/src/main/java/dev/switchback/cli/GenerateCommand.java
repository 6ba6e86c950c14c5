package dev.switchback.cli;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.sampling.Sample;
import dev.switchback.kernels.sampling.Sampler;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.kernels.sampling.StopMatcher;
import dev.switchback.kernels.sampling.TokenHistory;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.store.tokenizer.StreamingDecoder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback generate}: stream a completion of a prompt from a stored model on the native engine. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a stored model with the native engine, streaming tokens to stdout.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption modelOption;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "Text to continue.")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N", description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", paramLabel = "T", description = "0 for greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "Keep the K most likely tokens; 0 = off.")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P", description = "Nucleus sampling mass; 1 = off.")
    double topP;

    @Option(names = "--repetition-penalty", defaultValue = "1.0", paramLabel = "R", description = "CTRL-style penalty; 1 = off.")
    double repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", description = "Seed for reproducible sampling.")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text appears (repeatable).")
    List<String> stop = List.of();

    @Option(names = "--dtype", paramLabel = "F32|BF16", description = "Hold weights as F32 or BF16 (default: as stored).")
    WeightFormat dtype;

    @Override
    public Integer call() throws Exception {
        SamplingParams params = new SamplingParams(temperature, topK, topP, repetitionPenalty, seed, maxTokens, stop);
        ModelStore s = modelOption.store(spec.commandLine().getErr());
        Path dir = modelOption.dir(s);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenedModel opened = OpenedModel.open(dir)) {
            BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            Engine engine = Engine.load(opened, Engine.Options.defaults().withMaxSequences(1));
            int context = engine.config().contextLength();
            int[] tokens = tokenizer.encode(prompt);
            if (tokens.length == 0) {
                throw new IllegalArgumentException("--prompt: the prompt is empty");
            }
            if (tokens.length >= context) {
                throw new IllegalArgumentException("--prompt: the prompt has " + tokens.length
                        + " tokens but the model's context is " + context + " (at most " + (context - 1) + " leave room to generate)");
            }
            int budget = Math.min(maxTokens, context - tokens.length);
            Sampler sampler = new Sampler(params);
            TokenHistory history = new TokenHistory();
            history.addAll(tokens);
            StreamingDecoder decoder = new StreamingDecoder(tokenizer);
            StopMatcher stops = new StopMatcher(stop);
            int vocab = engine.config().vocabSize();
            int eos = tokenizer.endOfTextId();
            out.print(prompt);
            out.flush();
            String reason = "length";
            int generated = 0;
            long start = System.nanoTime();
            long firstToken = 0;
            try (Sequence seq = engine.newSequence()) {
                float[] logits = engine.prefill(seq, tokens);
                while (generated < budget) {
                    Sample next = sampler.next(logits, 0, vocab, history);
                    generated++;
                    if (generated == 1) {
                        firstToken = System.nanoTime();
                    }
                    if (next.token() == eos) {
                        reason = "end of text";
                        break;
                    }
                    history.add(next.token());
                    out.print(stops.accept(decoder.accept(next.token())));
                    out.flush();
                    if (stops.stopped()) {
                        reason = "stop string";
                        break;
                    }
                    if (generated < budget) {
                        logits = engine.forward(List.of(new Engine.Step(seq, new int[] {next.token()})))[0];
                    }
                }
            }
            long end = System.nanoTime();
            if (!stops.stopped()) {
                out.print(stops.accept(decoder.finish()));
                out.print(stops.flush());
            }
            double decodeSeconds = (end - firstToken) / 1e9;
            out.printf(Locale.ROOT, "%n[%d prompt tokens, %d generated, stopped by %s; first token %.1f ms, %.1f tokens/s decode, %s %s]%n",
                    tokens.length, generated, reason, (firstToken - start) / 1e6,
                    generated > 1 ? (generated - 1) / decodeSeconds : 0.0, engine.config().architecture().kind(),
                    engine.weights().format());
            out.flush();
        }
        return 0;
    }
}
