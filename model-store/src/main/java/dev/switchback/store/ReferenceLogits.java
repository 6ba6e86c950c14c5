package dev.switchback.store;

import dev.switchback.store.model.ConfigException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** The contents of {@code reference.json}: prompts with the trainer's own next-token logits, for parity tests. */
public record ReferenceLogits(List<Reference> references) {

    public ReferenceLogits {
        if (references == null) {
            throw new ConfigException("references", "is required");
        }
        for (int i = 0; i < references.size(); i++) {
            if (references.get(i) == null) {
                throw new ConfigException("references[" + i + "]", "must not be null");
            }
        }
        references = List.copyOf(references);
    }

    /** Reads and validates {@code reference.json}; content errors are {@link ConfigException}s naming the field. */
    public static ReferenceLogits read(Path file) throws IOException {
        return Json.read(file, ReferenceLogits.class);
    }

    /** Writes this to {@code file} and fsyncs it. */
    public void write(Path file) throws IOException {
        Json.write(file, this);
    }

    /**
     * One prompt, its token ids, and the logits over the vocabulary for the token after the last prompt token.
     * The arrays are copied in and out.
     */
    public record Reference(String prompt, int[] tokens, float[] logits) {

        public Reference {
            if (prompt == null) {
                throw new ConfigException("prompt", "is required");
            }
            if (tokens == null || tokens.length == 0) {
                throw new ConfigException("tokens", "must hold at least one token id");
            }
            for (int t : tokens) {
                if (t < 0) {
                    throw new ConfigException("tokens", "token ids must be >= 0, got " + t);
                }
            }
            if (logits == null || logits.length == 0) {
                throw new ConfigException("logits", "must hold one logit per vocabulary entry");
            }
            for (float l : logits) {
                if (!Float.isFinite(l)) {
                    throw new ConfigException("logits", "must be finite, got " + l);
                }
            }
            tokens = tokens.clone();
            logits = logits.clone();
        }

        @Override
        public int[] tokens() {
            return tokens.clone();
        }

        @Override
        public float[] logits() {
            return logits.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Reference r && prompt.equals(r.prompt) && Arrays.equals(tokens, r.tokens)
                    && Arrays.equals(logits, r.logits);
        }

        @Override
        public int hashCode() {
            return Objects.hash(prompt, Arrays.hashCode(tokens), Arrays.hashCode(logits));
        }

        @Override
        public String toString() {
            return "Reference[" + prompt + ", " + tokens.length + " tokens, " + logits.length + " logits]";
        }
    }
}
