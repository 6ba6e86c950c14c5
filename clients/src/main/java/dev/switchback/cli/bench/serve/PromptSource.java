package dev.switchback.cli.bench.serve;

import dev.switchback.store.corpus.Corpus;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Prompts cut from the corpus's held-out verses: consecutive verses from a random starting verse, joined by
 * spaces, cut at a word boundary to about a given length in characters. Held-out text keeps the model from
 * reciting what it trained on; the seed makes the sequence of prompts repeatable.
 */
final class PromptSource {
    private final List<String> texts;
    private final SplittableRandom random;

    PromptSource(List<String> texts, long seed) {
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("the corpus holds no text to cut prompts from");
        }
        this.texts = texts;
        this.random = new SplittableRandom(seed);
    }

    /** The texts prompts are cut from: the validation split of the corpus file. */
    static List<String> corpusTexts(Path file) throws IOException {
        return Corpus.load(file).validationTexts();
    }

    /** The next prompt, of {@code chars} characters or slightly fewer (never cut inside a word unless it is longer). */
    public synchronized String next(int chars) {
        if (chars <= 0) {
            throw new IllegalArgumentException("chars must be >= 1, got " + chars);
        }
        StringBuilder text = new StringBuilder(chars + 256);
        int i = random.nextInt(texts.size());
        while (text.length() < chars) {
            if (!text.isEmpty()) {
                text.append(' ');
            }
            text.append(texts.get(i));
            i = (i + 1) % texts.size();
        }
        if (text.length() == chars || text.charAt(chars) == ' ') {
            return text.substring(0, chars);
        }
        int space = text.lastIndexOf(" ", chars);
        return text.substring(0, space > 0 ? space : chars);
    }
}
