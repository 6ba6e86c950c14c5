package dev.switchback.store.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE tokenizer (GPT-2 scheme), trained here and stored as a Hugging Face {@code tokenizer.json}.
 *
 * <p>Layout of a trained vocabulary, as the {@code tokenizers} BPE trainer lays it out: the special tokens first
 * (ids {@code 0..k-1}, {@link #END_OF_TEXT} being id 0 unless the caller lists it elsewhere), then the 256 byte
 * tokens ordered by the code point of the character that stands for each byte, then one token per merge.
 *
 * <p>{@link #encode} treats a literal occurrence of a special token's text (e.g. {@code "<|endoftext|>"}) as that
 * special token, like {@code tokenizers}' added tokens; {@link #encodeOrdinary} encodes it as plain text, for
 * untrusted input. Unpaired UTF-16 surrogates are encoded as U+FFFD, as a UTF-8 encoder must, so
 * {@code decode(encode(s))} equals {@code s} with lone surrogates replaced by U+FFFD. Instances are immutable and
 * thread-safe.
 */
public final class BpeTokenizer {
    /** The end-of-text special token, always in the vocabulary. */
    public static final String END_OF_TEXT = "<|endoftext|>";

    /** Pre-tokens longer than this are not cached: they are rare and would crowd out the common words. */
    private static final int CACHED_WORD_CHARS = 64;
    /** Bound on the word cache; when reached the cache starts over, which is cheap and keeps memory flat. */
    private static final int CACHE_ENTRIES = 1 << 16;

    private final String[] vocab;
    private final List<AddedToken> addedTokens;
    private final Map<String, Integer> addedIds = new HashMap<>();
    private final Pattern addedSplitter;
    private final byte[][] tokenBytes;
    private final int[] byteToId = new int[256];
    private final long[] mergePairs;
    private final int[] mergeIds;
    private final PairMap mergeRanks;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab id → model vocabulary string (byte-level characters), null where an id is only an added token
     * @param addedTokens the added (special) tokens
     * @param mergePairs merges in rank order, each a {@link PairMap#pair} of token ids
     * @param mergeIds the token id each merge produces
     * @throws IllegalArgumentException when the pieces do not make a byte-level BPE vocabulary
     */
    BpeTokenizer(String[] vocab, List<AddedToken> addedTokens, long[] mergePairs, int[] mergeIds) {
        this.addedTokens = List.copyOf(addedTokens);
        int size = vocab.length;
        for (AddedToken t : addedTokens) {
            size = Math.max(size, t.id() + 1);
        }
        this.vocab = java.util.Arrays.copyOf(vocab, size);
        this.tokenBytes = new byte[size][];
        for (AddedToken t : addedTokens) {
            if (t.content().isEmpty()) {
                throw new IllegalArgumentException("added token " + t.id() + " has empty content");
            }
            if (addedIds.putIfAbsent(t.content(), t.id()) != null || tokenBytes[t.id()] != null) {
                throw new IllegalArgumentException("added token '" + t.content() + "' or its id is listed twice");
            }
            // An added token stands for its text as is: tokenizers stores it unmapped, even in the model vocab.
            tokenBytes[t.id()] = utf8(t.content());
        }
        Map<String, Integer> ids = new HashMap<>(size * 2);
        for (int id = 0; id < vocab.length; id++) {
            if (vocab[id] != null && tokenBytes[id] == null) {
                byte[] bytes = ByteLevel.fromVocabString(vocab[id]);
                if (bytes == null || bytes.length == 0) {
                    throw new IllegalArgumentException("token " + id + " '" + vocab[id]
                            + "' is not a byte-level string (characters outside the 256-character byte alphabet)");
                }
                tokenBytes[id] = bytes;
                ids.putIfAbsent(vocab[id], id);
            }
        }
        for (int id = 0; id < size; id++) {
            if (tokenBytes[id] == null) {
                throw new IllegalArgumentException("token ids are not contiguous: no token has id " + id);
            }
        }
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.valueOf(ByteLevel.charOf(b)));
            if (id == null) {
                throw new IllegalArgumentException(String.format(
                        "not a byte-level vocabulary: no token for byte 0x%02X ('%s')", b, ByteLevel.charOf(b)));
            }
            byteToId[b] = id;
        }
        if (mergePairs.length != mergeIds.length) {
            throw new IllegalArgumentException("merges and their results differ in length");
        }
        this.mergePairs = mergePairs.clone();
        this.mergeIds = mergeIds.clone();
        this.mergeRanks = new PairMap(mergePairs.length);
        for (int rank = 0; rank < mergePairs.length; rank++) {
            mergeRanks.putIfAbsent(mergePairs[rank], rank);
        }
        this.addedSplitter = addedTokens.isEmpty() ? null : Pattern.compile(addedTokens.stream()
                .map(AddedToken::content)
                // Longest first, so a token that extends another wins at the same position.
                .sorted(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()))
                .map(Pattern::quote)
                .reduce((a, b) -> a + "|" + b)
                .orElseThrow());
    }

    /**
     * Learns a vocabulary of {@code vocabSize} tokens (specials + 256 bytes + merges) from {@code texts}.
     * Merges are chosen by highest pair count, ties broken by the smaller (first id, second id) pair, so training
     * is deterministic. Stops early, with a smaller vocabulary, when no pair occurs any more.
     *
     * @param specialTokens special tokens, ids 0.. in this order; {@link #END_OF_TEXT} is put first if absent
     * @param progressMerges told the number of merges done after each merge; may be null
     * @throws IllegalArgumentException if {@code vocabSize} is below specials + 256, or a special token is
     *     empty or repeated
     */
    public static BpeTokenizer train(
            List<String> texts, int vocabSize, List<String> specialTokens, IntConsumer progressMerges) {
        return BpeTrainer.train(texts, vocabSize, specialTokens, progressMerges);
    }

    /** Reads a Hugging Face {@code tokenizer.json} holding a byte-level BPE model. */
    public static BpeTokenizer load(Path tokenizerJson) throws IOException {
        return TokenizerJson.read(tokenizerJson);
    }

    /** Writes this tokenizer as a Hugging Face {@code tokenizer.json} (written beside, then renamed into place). */
    public void save(Path tokenizerJson) throws IOException {
        TokenizerJson.write(this, tokenizerJson);
    }

    /** Token ids for {@code text}; literal special-token text becomes the special token. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /** Token ids for {@code text}, treating special-token text as ordinary text (for untrusted input). */
    public int[] encodeOrdinary(String text) {
        return encode(text, false);
    }

    /** The UTF-8 bytes the ids stand for (a special token stands for its text). */
    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            out.writeBytes(bytesOf(id));
        }
        return out.toByteArray();
    }

    /** The text the ids stand for; byte sequences that are not valid UTF-8 decode to U+FFFD. */
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    /** Number of token ids, specials included; ids run from 0 to {@code vocabSize() - 1}. */
    public int vocabSize() {
        return tokenBytes.length;
    }

    /** The id of a special token, if this tokenizer has it. */
    public OptionalInt specialTokenId(String content) {
        for (AddedToken t : addedTokens) {
            if (t.special() && t.content().equals(content)) {
                return OptionalInt.of(t.id());
            }
        }
        return OptionalInt.empty();
    }

    /** The id of {@link #END_OF_TEXT}. */
    public int endOfTextId() {
        return specialTokenId(END_OF_TEXT).orElseThrow(
                () -> new IllegalStateException("this tokenizer has no " + END_OF_TEXT + " token"));
    }

    /** The vocabulary string of a token ({@code "Ġthe"} for " the"), or the text of an added token. */
    public String token(int id) {
        checkId(id);
        return vocab[id] != null ? vocab[id] : addedContent(id);
    }

    byte[] bytesOf(int id) {
        checkId(id);
        return tokenBytes[id];
    }

    String[] vocab() {
        return vocab.clone();
    }

    List<AddedToken> addedTokens() {
        return addedTokens;
    }

    long[] mergePairs() {
        return mergePairs.clone();
    }

    private String addedContent(int id) {
        for (AddedToken t : addedTokens) {
            if (t.id() == id) {
                return t.content();
            }
        }
        throw new IllegalStateException("token " + id + " has neither vocabulary string nor added content");
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new IllegalArgumentException("token id " + id + " out of range [0, " + tokenBytes.length + ")");
        }
    }

    private int[] encode(String text, boolean splitAdded) {
        Objects.requireNonNull(text, "text");
        String s = ByteLevel.replaceLoneSurrogates(text);
        IntList out = new IntList(s.length() / 3 + 4);
        int start = 0;
        if (splitAdded && addedSplitter != null) {
            Matcher m = addedSplitter.matcher(s);
            while (m.find()) {
                encodeSegment(s, start, m.start(), out);
                out.add(addedIds.get(m.group()));
                start = m.end();
            }
        }
        encodeSegment(s, start, s.length(), out);
        return out.toArray();
    }

    /** Pre-tokenizes one stretch free of added tokens (the regex cannot look past its ends) and BPE-encodes it. */
    private void encodeSegment(String s, int start, int end, IntList out) {
        if (start == end) {
            return;
        }
        Matcher m = ByteLevel.PRE_TOKENIZER.matcher(s).region(start, end);
        while (m.find()) {
            String word = s.substring(m.start(), m.end());
            if (word.length() > CACHED_WORD_CHARS) {
                out.addAll(bpe(word.getBytes(StandardCharsets.UTF_8)));
                continue;
            }
            int[] ids = cache.get(word);
            if (ids == null) {
                ids = bpe(word.getBytes(StandardCharsets.UTF_8));
                if (cache.size() >= CACHE_ENTRIES) {
                    cache.clear();
                }
                cache.put(word, ids);
            }
            out.addAll(ids);
        }
    }

    /**
     * Applies merges to one pre-token, lowest rank first and leftmost first among equals, as {@code tokenizers}
     * does; a heap over a linked list of symbols keeps long pre-tokens at O(n log n).
     */
    private int[] bpe(byte[] bytes) {
        int n = bytes.length;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = byteToId[bytes[i] & 0xFF];
        }
        if (n < 2 || mergePairs.length == 0) {
            return ids;
        }
        int[] prev = new int[n];
        int[] next = new int[n];
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            if (i + 1 < n) {
                pushMerge(heap, ids[i], ids[i + 1], i);
            }
        }
        int alive = n;
        while (!heap.isEmpty()) {
            long entry = heap.pop();
            int rank = (int) (entry >>> 32);
            int i = (int) entry;
            int j = next[i];
            // Entries are not removed when their symbols change; skip the ones that no longer describe a pair.
            if (ids[i] < 0 || j < 0 || mergeRanks.get(PairMap.pair(ids[i], ids[j]), -1) != rank) {
                continue;
            }
            ids[i] = mergeIds[rank];
            ids[j] = -1;
            alive--;
            next[i] = next[j];
            if (next[i] >= 0) {
                prev[next[i]] = i;
                pushMerge(heap, ids[i], ids[next[i]], i);
            }
            if (prev[i] >= 0) {
                pushMerge(heap, ids[prev[i]], ids[i], prev[i]);
            }
        }
        int[] merged = new int[alive];
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            merged[k++] = ids[i];
        }
        return merged;
    }

    private void pushMerge(LongHeap heap, int left, int right, int position) {
        long rank = mergeRanks.get(PairMap.pair(left, right), -1);
        if (rank >= 0) {
            heap.push((rank << 32) | position);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A token matched before BPE by its literal text; {@code special} marks control tokens like end-of-text. */
    record AddedToken(int id, String content, boolean special) {
        AddedToken {
            Objects.requireNonNull(content, "content");
            if (id < 0) {
                throw new IllegalArgumentException("added token '" + content + "' has negative id " + id);
            }
        }
    }

    /** Builds the added-token list for ids 0.. in order. */
    static List<AddedToken> specials(List<String> contents) {
        List<AddedToken> out = new ArrayList<>(contents.size());
        for (int i = 0; i < contents.size(); i++) {
            out.add(new AddedToken(i, contents.get(i), true));
        }
        return out;
    }
}
