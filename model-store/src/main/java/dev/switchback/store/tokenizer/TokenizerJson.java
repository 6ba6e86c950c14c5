package dev.switchback.store.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the Hugging Face {@code tokenizers} file format, limited to what a GPT-2-style byte-level BPE
 * uses; anything that would change how text is tokenized and is not implemented here is refused, not ignored.
 */
final class TokenizerJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizerJson() {}

    static void write(BpeTokenizer tokenizer, Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (BpeTokenizer.AddedToken t : tokenizer.addedTokens()) {
            added.addObject()
                    .put("id", t.id())
                    .put("content", t.content())
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", t.special());
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel());
        root.putNull("post_processor");
        root.set("decoder", byteLevel());
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        String[] tokens = tokenizer.vocab();
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null) {
                vocab.put(tokens[id], id);
            }
        }
        // Pairs, as tokenizers >= 0.20 writes them; the older "a b" strings are still read.
        ArrayNode merges = model.putArray("merges");
        for (long pair : tokenizer.mergePairs()) {
            merges.addArray().add(tokens[PairMap.first(pair)]).add(tokens[PairMap.second(pair)]);
        }

        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        // Not Files.createTempFile: its owner-only permissions would stick to the published file.
        Path temp = target.resolveSibling(target.getFileName() + "." + ProcessHandle.current().pid() + "."
                + System.nanoTime() + ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(temp, StandardOpenOption.CREATE_NEW)) {
                JSON.writerWithDefaultPrettyPrinter().writeValue(out, root);
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    static BpeTokenizer read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "tokenizer file not found");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed tokenizer JSON: " + e.getOriginalMessage(), e);
        }
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static BpeTokenizer parse(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("not a tokenizer.json (top level is not a JSON object)");
        }
        JsonNode model = required(root, "model", "");
        String type = model.path("type").asText("");
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException("unsupported model.type '" + type + "'; only BPE is supported");
        }
        requireNull(root, "normalizer");
        requireByteLevel(root, "pre_tokenizer", true);
        requireByteLevel(root, "decoder", false);
        requireByteLevel(root, "post_processor", false);
        for (String field : List.of("dropout", "continuing_subword_prefix", "end_of_word_suffix")) {
            JsonNode value = model.path(field);
            if (!value.isMissingNode() && !value.isNull() && !(value.isTextual() && value.asText().isEmpty())) {
                throw new IllegalArgumentException("unsupported model." + field + " " + value);
            }
        }
        if (model.path("ignore_merges").asBoolean(false)) {
            throw new IllegalArgumentException("unsupported model.ignore_merges true");
        }

        JsonNode vocabNode = required(model, "vocab", "model.");
        if (!vocabNode.isObject()) {
            throw new IllegalArgumentException("model.vocab must be an object of token → id");
        }
        Map<String, Integer> ids = new HashMap<>(vocabNode.size() * 2);
        int size = 0;
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new IllegalArgumentException("model.vocab['" + e.getKey() + "'] is not a token id: " + e.getValue());
            }
            ids.put(e.getKey(), e.getValue().asInt());
            size = Math.max(size, e.getValue().asInt() + 1);
        }
        String[] vocab = new String[size];
        for (Map.Entry<String, Integer> e : ids.entrySet()) {
            if (vocab[e.getValue()] != null) {
                throw new IllegalArgumentException("model.vocab gives id " + e.getValue() + " to both '"
                        + vocab[e.getValue()] + "' and '" + e.getKey() + "'");
            }
            vocab[e.getValue()] = e.getKey();
        }

        List<BpeTokenizer.AddedToken> added = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            for (String flag : List.of("lstrip", "rstrip", "single_word")) {
                if (t.path(flag).asBoolean(false)) {
                    throw new IllegalArgumentException("unsupported added token option " + flag + " on " + t);
                }
            }
            if (!t.path("id").canConvertToInt() || !t.path("content").isTextual()) {
                throw new IllegalArgumentException("added token needs an integer id and a text content: " + t);
            }
            added.add(new BpeTokenizer.AddedToken(t.get("id").asInt(), t.get("content").asText(),
                    t.path("special").asBoolean(false)));
        }

        JsonNode mergesNode = required(model, "merges", "model.");
        long[] pairs = new long[mergesNode.size()];
        int[] results = new int[mergesNode.size()];
        for (int rank = 0; rank < mergesNode.size(); rank++) {
            JsonNode m = mergesNode.get(rank);
            String left;
            String right;
            if (m.isTextual() && m.asText().split(" ", -1).length == 2) {
                String[] parts = m.asText().split(" ", -1);
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                throw new IllegalArgumentException("model.merges[" + rank + "] is neither \"a b\" nor [\"a\", \"b\"]: " + m);
            }
            pairs[rank] = PairMap.pair(idOf(ids, left, rank), idOf(ids, right, rank));
            results[rank] = idOf(ids, left + right, rank);
        }
        return new BpeTokenizer(vocab, added, pairs, results);
    }

    private static int idOf(Map<String, Integer> ids, String token, int rank) {
        Integer id = ids.get(token);
        if (id == null) {
            throw new IllegalArgumentException("model.merges[" + rank + "] uses '" + token + "', which is not in model.vocab");
        }
        return id;
    }

    private static ObjectNode byteLevel() {
        ObjectNode node = JSON.createObjectNode();
        node.put("type", "ByteLevel");
        node.put("add_prefix_space", false);
        node.put("trim_offsets", true);
        node.put("use_regex", true);
        return node;
    }

    private static JsonNode required(JsonNode parent, String field, String prefix) {
        JsonNode node = parent.get(field);
        if (node == null || node.isNull()) {
            throw new IllegalArgumentException("missing " + prefix + field);
        }
        return node;
    }

    private static void requireNull(JsonNode root, String field) {
        JsonNode node = root.path(field);
        if (!node.isMissingNode() && !node.isNull()) {
            throw new IllegalArgumentException("unsupported " + field + " " + node.path("type").asText(node.toString())
                    + "; only null is supported");
        }
    }

    /** Null (where allowed) or ByteLevel; the pre-tokenizer must also split with the GPT-2 regex, no prefix space. */
    private static void requireByteLevel(JsonNode root, String field, boolean required) {
        JsonNode node = root.path(field);
        if (node.isMissingNode() || node.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing " + field + "; a ByteLevel " + field + " is required");
            }
            return;
        }
        String type = node.path("type").asText("");
        if (!type.equals("ByteLevel")) {
            throw new IllegalArgumentException("unsupported " + field + " type '" + type + "'; only ByteLevel is supported");
        }
        if (field.equals("pre_tokenizer")) {
            if (node.path("add_prefix_space").asBoolean(false)) {
                throw new IllegalArgumentException("unsupported pre_tokenizer.add_prefix_space true");
            }
            if (!node.path("use_regex").asBoolean(true)) {
                throw new IllegalArgumentException("unsupported pre_tokenizer.use_regex false");
            }
        }
    }
}
