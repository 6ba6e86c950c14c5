package dev.switchback.store.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Publication;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.VerificationReport;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exporter's wire format, graph signature and store entries, read back with an independent decoder. */
class OnnxExportTest {
    static final ModelConfig DENSE = new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5, new Architecture.Dense());

    @TempDir
    Path root;

    /** A protobuf wire-format decoder: field number → values (Long for varints, Integer for fixed32, byte[] for the rest). */
    static Map<Integer, List<Object>> decode(byte[] bytes) {
        Map<Integer, List<Object>> fields = new LinkedHashMap<>();
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            long tag = varint(in);
            Object value = switch ((int) (tag & 7)) {
                case 0 -> varint(in);
                case 5 -> in.getInt();
                case 2 -> {
                    byte[] b = new byte[(int) varint(in)];
                    in.get(b);
                    yield b;
                }
                default -> throw new AssertionError("unexpected wire type " + (tag & 7));
            };
            fields.computeIfAbsent((int) (tag >>> 3), k -> new ArrayList<>()).add(value);
        }
        return fields;
    }

    static long varint(ByteBuffer in) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte b = in.get();
            v |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return v;
            }
        }
    }

    static List<Map<Integer, List<Object>>> messages(Map<Integer, List<Object>> m, int field) {
        return m.getOrDefault(field, List.of()).stream().map(b -> decode((byte[]) b)).toList();
    }

    static String string(Map<Integer, List<Object>> m, int field) {
        return new String((byte[]) m.get(field).getFirst(), StandardCharsets.UTF_8);
    }

    @Test
    void fieldsAreEncodedAsTheProtobufWireFormatSpecifies() {
        HexFormat hex = HexFormat.of();
        assertEquals("08ac02", hex.formatHex(new ProtoMessage().varint(1, 300).toByteArray()));
        // int64 −1: ten bytes, two's complement.
        assertEquals("18ffffffffffffffffff01", hex.formatHex(new ProtoMessage().varint(3, -1).toByteArray()));
        assertEquals("150000803f", hex.formatHex(new ProtoMessage().float32(2, 1f).toByteArray()));
        assertEquals("120774657374696e67", hex.formatHex(new ProtoMessage().string(2, "testing").toByteArray()));
        ProtoMessage inner = new ProtoMessage().varint(1, 150);
        assertEquals("1a03089601", hex.formatHex(new ProtoMessage().message(3, inner).toByteArray()));
        assertEquals("0a03038e02", hex.formatHex(new ProtoMessage().packedVarints(1, new long[] {3, 270}).toByteArray()));
        assertEquals(5, new ProtoMessage().message(3, inner).size());
    }

    private Path publishDense(ModelStore store, String name, ModelConfig config) throws IOException {
        try (Publication p = store.begin(name)) {
            TinyModels.write(p.dir(), name, config, DType.F32, 5);
            return p.commit().dir();
        }
    }

    @Test
    void theGraphHasOptimumsDecoderWithPastSignatureAndTheModelsWeights() throws IOException {
        ModelStore store = new ModelStore(root.resolve("store"));
        Path out = root.resolve("out/model.onnx");
        float[] embedding;
        try (OpenedModel opened = store.open(publishDense(store, "dense", DENSE))) {
            long bytes = OnnxExport.write(opened, out);
            assertEquals(Files.size(out), bytes);
            embedding = opened.weights().floats("tok_emb.weight");
        }
        Map<Integer, List<Object>> model = decode(Files.readAllBytes(out));
        assertEquals(8L, model.get(1).getFirst(), "ir_version");
        assertEquals("switchback", string(model, 2));
        Map<Integer, List<Object>> opset = messages(model, 8).getFirst();
        assertEquals((long) OnnxExport.OPSET, opset.get(2).getFirst());
        Map<Integer, List<Object>> graph = messages(model, 7).getFirst();
        List<String> inputs = messages(graph, 11).stream().map(v -> string(v, 1)).toList();
        assertEquals(List.of("input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value",
                "past_key_values.1.key", "past_key_values.1.value"), inputs);
        List<String> outputs = messages(graph, 12).stream().map(v -> string(v, 1)).toList();
        assertEquals(List.of("logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"), outputs);
        // past_key_values.0.key: float, [batch_size, heads=2, past_sequence_length, head_dim=4].
        Map<Integer, List<Object>> tensorType = messages(messages(messages(graph, 11).get(3), 2).getFirst(), 1).getFirst();
        assertEquals(1L, tensorType.get(1).getFirst());
        List<Map<Integer, List<Object>>> dims = messages(messages(tensorType, 2).getFirst(), 1);
        assertEquals("batch_size", string(dims.get(0), 2));
        assertEquals(2L, dims.get(1).get(1).getFirst());
        assertEquals("past_sequence_length", string(dims.get(2), 2));
        assertEquals(4L, dims.get(3).get(1).getFirst());

        Map<String, Map<Integer, List<Object>>> initializers = new LinkedHashMap<>();
        for (Map<Integer, List<Object>> t : messages(graph, 5)) {
            initializers.put(string(t, 8), t);
        }
        Map<Integer, List<Object>> emb = initializers.get("tok_emb.weight");
        assertEquals(List.of(32L, 8L), emb.get(1));
        assertEquals(1L, emb.get(2).getFirst());
        float[] stored = new float[32 * 8];
        ByteBuffer.wrap((byte[]) emb.get(9).getFirst()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(stored);
        assertArrayEquals(embedding, stored);
        assertTrue(initializers.containsKey("lm_head.weight"));
        assertTrue(initializers.containsKey("blocks.1.ffn.w2"));

        Set<String> ops = new TreeSet<>();
        for (Map<Integer, List<Object>> node : messages(graph, 1)) {
            ops.add(string(node, 4));
        }
        // Standard ai.onnx operators only, nothing from a contrib domain.
        assertTrue(Set.of("Gather", "Gemm", "MatMul", "Softmax", "Concat", "Reshape", "Transpose", "Tanh", "Where", "Range",
                "ReduceMean", "Sqrt", "Reciprocal", "Slice", "Shape", "Add", "Sub", "Mul", "Squeeze", "Unsqueeze",
                "LessOrEqual", "Cast", "And").containsAll(ops), ops.toString());
        assertTrue(messages(graph, 1).stream().noneMatch(n -> n.containsKey(7)), "no node names a domain");
    }

    @Test
    void onlyDenseModelsExportWithOneLineSayingToDistilFirst() throws IOException {
        ModelStore store = new ModelStore(root.resolve("store"));
        for (ModelConfig sparse : List.of(TinyModels.switchConfig(), TinyModels.hashConfig(),
                new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5, new Architecture.Ladder(2, new Architecture.Dense())))) {
            String name = sparse.architecture().kind() + "-model";
            try (OpenedModel opened = store.open(publishDense(store, name, sparse))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> OnnxExport.write(opened, root.resolve(name + ".onnx")));
                assertEquals("model " + name + " is a " + sparse.architecture().kind()
                        + " model; only dense models export to ONNX: distil it into a dense student first", e.getMessage());
                assertFalse(Files.exists(root.resolve(name + ".onnx")));
            }
        }
    }

    @Test
    void aPublishedExportIsAVerifiedStoreEntryWhoseChecksumsCoverModelOnnx() throws IOException {
        ModelStore store = new ModelStore(root.resolve("store"));
        PublishedModel published;
        try (OpenedModel opened = store.open(publishDense(store, "dense", DENSE))) {
            published = OnnxExport.publish(opened, store, "dense-onnx");
        }
        try (Stream<Path> files = Files.list(published.dir())) {
            assertEquals(Set.of("model.json", "model.onnx", "tokenizer.json", "reference.json", "SHA256SUMS"),
                    Set.copyOf(files.map(p -> p.getFileName().toString()).toList()));
        }
        assertTrue(published.sha256ByFile().containsKey(ModelFiles.ONNX));
        assertTrue(store.verify(published.dir()).ok(), store.verify(published.dir()).describe());
        try (OpenedModel opened = store.open(published.dir())) {
            ModelManifest m = opened.manifest();
            assertTrue(m.onnxExport() && opened.onnxExport());
            assertEquals("F32", m.dtype());
            assertEquals(DENSE, m.config());
            IllegalStateException e = assertThrows(IllegalStateException.class, opened::weights);
            assertTrue(e.getMessage().contains("is an ONNX export"), e.getMessage());
            IllegalArgumentException again = assertThrows(IllegalArgumentException.class,
                    () -> OnnxExport.write(opened, root.resolve("again.onnx")));
            assertTrue(again.getMessage().contains("already an ONNX export"), again.getMessage());
        }
        // One flipped byte in model.onnx is caught by the checksums.
        Path onnx = published.dir().resolve(ModelFiles.ONNX);
        byte[] bytes = Files.readAllBytes(onnx);
        bytes[bytes.length / 2] ^= 1;
        Files.write(onnx, bytes);
        VerificationReport report = store.verify(published.dir());
        assertFalse(report.ok());
        assertTrue(report.describe().contains("model.onnx") && report.describe().contains("checksum mismatch"), report.describe());
        // And an export without its graph is incomplete.
        Files.delete(onnx);
        assertTrue(store.verify(published.dir()).describe().contains("model.onnx"), store.verify(published.dir()).describe());
    }
}
