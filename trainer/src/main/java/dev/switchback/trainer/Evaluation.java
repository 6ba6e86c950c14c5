package dev.switchback.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.data.TokenizedCorpus;
import dev.switchback.trainer.model.ForwardPass;
import dev.switchback.trainer.model.Gpt;
import java.io.IOException;
import java.nio.file.Path;

/** Validation loss of a stored model on a corpus's fixed split, encoded with the model's own tokenizer. */
public final class Evaluation {
    private Evaluation() {}

    /** Mean cross-entropy (nats per token) over {@code tokens} predicted tokens. */
    public record Result(double loss, long tokens) {}

    public static Result run(NDManager manager, OpenedModel opened, Path corpusFile, int seqLen) throws IOException {
        int window = Math.min(seqLen, opened.config().contextLength());
        BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
        int[] tokens = TokenizedCorpus.encode(tokenizer, Corpus.load(corpusFile).validationTexts());
        try (Gpt model = ModelLoader.load(manager, opened, 0)) {
            return of(model, tokens, window);
        }
    }

    /** Mean cross-entropy of {@code model} over the fixed evaluation windows of {@code tokens}. */
    public static Result of(Gpt model, int[] tokens, int seqLen) {
        double sum = 0;
        long n = 0;
        for (BatchSampler.Batch b : BatchSampler.evaluationBatches(tokens, 16, seqLen, 0)) {
            try (NDManager m = model.parameters().manager().newSubManager()) {
                for (NDArray p : model.parameters().all().values()) {
                    p.tempAttach(m);
                }
                ForwardPass pass = model.forward(m, b.inputs(), false);
                long count = (long) b.inputs().length * seqLen;
                sum += Gpt.crossEntropy(m, pass.logits(), b.targets()).getFloat() * count;
                n += count;
            }
        }
        return new Result(sum / n, n);
    }
}
