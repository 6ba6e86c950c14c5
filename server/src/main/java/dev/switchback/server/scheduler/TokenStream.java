package dev.switchback.server.scheduler;

import dev.switchback.kernels.sampling.StopMatcher;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.store.tokenizer.StreamingDecoder;
import java.util.List;

/** One generation's token ids turned into the text a client may see: whole UTF-8 characters, stop strings cut. */
final class TokenStream {
    private final StreamingDecoder decoder;
    private final StopMatcher stops;

    TokenStream(BpeTokenizer tokenizer, List<String> stopStrings) {
        this.decoder = new StreamingDecoder(tokenizer);
        this.stops = new StopMatcher(stopStrings);
    }

    /** The text {@code token} releases: empty while a character or a possible stop string is incomplete. */
    String accept(int token) {
        return stops.accept(decoder.accept(token));
    }

    /** Whether a stop string has appeared. */
    boolean stopped() {
        return stops.stopped();
    }

    /** At the end: everything held back (a cut character decodes to U+FFFD, which may still complete a stop). */
    String finish() {
        String released = stops.accept(decoder.finish());
        return released + stops.flush();
    }
}
