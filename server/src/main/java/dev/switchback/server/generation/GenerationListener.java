package dev.switchback.server.generation;

/**
 * Receives one generation's output. Calls come from the scheduler's thread, in order, and must not block:
 * a protocol layer hands them to its own event loop. After {@link #onComplete} or {@link #onError} nothing more
 * arrives.
 */
public interface GenerationListener {
    /** A generated token and the text it completes (empty while a multi-byte character or a possible stop string is pending). */
    void onToken(TokenPiece piece);

    /** The generation ended normally; {@code remainingText} is text held back until the end (often empty). */
    void onComplete(Completion completion);

    /** The generation failed or was refused after submission (deadline, preemption limit, internal error). */
    void onError(GenerationException error);

    /**
     * @param tokenId the token sampled
     * @param text the text it releases
     * @param logprob its log-probability under the distribution sampled from
     */
    record TokenPiece(int tokenId, String text, float logprob) {}

    /** Why a generation ended, with OpenAI's name for it. */
    enum FinishReason {
        STOP("stop"),
        LENGTH("length");

        private final String openAi;

        FinishReason(String openAi) {
            this.openAi = openAi;
        }

        public String openAi() {
            return openAi;
        }
    }

    /** Token counts of one generation. */
    record Usage(int promptTokens, int completionTokens) {
        public int totalTokens() {
            return promptTokens + completionTokens;
        }
    }

    /** @param remainingText text released at the end (held-back bytes or stop-string prefixes that never completed) */
    record Completion(FinishReason reason, Usage usage, String remainingText) {}
}
