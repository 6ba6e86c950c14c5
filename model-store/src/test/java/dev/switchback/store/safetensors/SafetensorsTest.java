package dev.switchback.store.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryDtype() throws IOException {
        float[] values = {1.0f, -2.5f, 0.15625f, 3.0e-3f, 1000f, -0.0f};
        long[] i64 = {Long.MIN_VALUE, -1, 0, 1L << 40};
        ByteBuffer i64Bytes = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : i64) {
            i64Bytes.putLong(v);
        }
        List<TensorData> tensors = List.of(
                TensorData.ofFloats("f32", new long[] {2, 3}, values, DType.F32),
                TensorData.ofFloats("f16", new long[] {6}, values, DType.F16),
                TensorData.ofFloats("bf16", new long[] {3, 2}, values, DType.BF16),
                TensorData.ofInts("i32", new long[] {2, 2}, new int[] {Integer.MIN_VALUE, -7, 0, Integer.MAX_VALUE}),
                new TensorData("i64", DType.I64, new long[] {4}, i64Bytes.array()),
                TensorData.ofFloats("scalar", new long[] {}, new float[] {42f}, DType.F32),
                TensorData.ofFloats("empty", new long[] {0, 5}, new float[0], DType.BF16));
        Path file = tmp.resolve("all.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "ünïcode"));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcode"), f.metadata());
            assertEquals(7, f.names().size());
            assertArrayEquals(values, f.floats("f32"));
            assertArrayEquals(new long[] {2, 3}, f.info("f32").shape());
            // F16 and BF16 hold these particular values exactly except 3e-3, which each rounds its own way.
            float[] f16 = f.floats("f16");
            float[] bf16 = f.floats("bf16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(Codec.f16ToFloat(Codec.floatToF16(values[i])), f16[i]);
                assertEquals(Codec.bf16ToFloat(Codec.floatToBf16(values[i])), bf16[i]);
            }
            assertEquals(1000f, bf16[4]);
            assertEquals(0.15625f, f16[2]);
            assertArrayEquals(new int[] {Integer.MIN_VALUE, -7, 0, Integer.MAX_VALUE}, f.ints("i32"));
            MemorySegment seg = f.segment("i64");
            for (int i = 0; i < i64.length; i++) {
                assertEquals(i64[i], seg.getAtIndex(Codec.I64, i));
            }
            assertEquals(DType.I64, f.info("i64").dtype());
            assertArrayEquals(new float[] {42f}, f.floats("scalar"));
            assertEquals(0, f.floats("empty").length);
            assertTrue(seg.isReadOnly());
            for (String name : f.names()) {
                TensorInfo info = f.info(name);
                assertEquals(0, info.offset() % info.dtype().byteSize(), name + " is aligned to its element size");
            }
            assertThrows(IllegalArgumentException.class, () -> f.ints("f32"));
            assertThrows(IllegalArgumentException.class, () -> f.floats("i32"));
            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> f.info("nope"));
            assertTrue(missing.getMessage().contains("nope") && missing.getMessage().contains("all.safetensors"));
        }
    }

    @Test
    void writerIgnoresInputOrder() throws IOException {
        TensorData a = TensorData.ofFloats("a", new long[] {1}, new float[] {1}, DType.BF16);
        TensorData b = TensorData.ofFloats("b", new long[] {1}, new float[] {2}, DType.F32);
        Path one = tmp.resolve("one");
        Path two = tmp.resolve("two");
        SafetensorsWriter.write(one, List.of(a, b), Map.of());
        SafetensorsWriter.write(two, List.of(b, a), Map.of());
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(two));
    }

    @Test
    void layoutPutsWiderTypesFirstThenNamesWithNumbersInOrder() throws IOException {
        List<TensorData> tensors = new java.util.ArrayList<>();
        for (String name : List.of("blocks.10.w", "blocks.2.w", "blocks.1.w", "final", "blocks.2.experts.11.w1",
                "blocks.2.experts.3.w1")) {
            tensors.add(TensorData.ofFloats(name, new long[] {1}, new float[] {1}, DType.F32));
        }
        tensors.add(TensorData.ofFloats("half", new long[] {1}, new float[] {1}, DType.BF16));
        tensors.add(new TensorData("long", DType.I64, new long[] {1}, new byte[8]));
        Path file = tmp.resolve("order.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("long", "blocks.1.w", "blocks.2.experts.3.w1", "blocks.2.experts.11.w1", "blocks.2.w",
                    "blocks.10.w", "final", "half"), f.names());
        }
    }

    @Test
    void headerIsPaddedWithSpacesToEightBytes() throws IOException {
        for (int len = 1; len <= 16; len++) {
            Path file = tmp.resolve("pad" + len);
            SafetensorsWriter.write(file, List.of(TensorData.ofInts("x".repeat(len), new long[] {1}, new int[] {len})),
                    Map.of());
            byte[] bytes = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            assertEquals(0, (8 + n) % 8, "8 + N is a multiple of 8");
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.stripTrailing().endsWith("}"));
            assertTrue(header.substring(header.stripTrailing().length()).chars().allMatch(c -> c == ' '));
            assertTrue(header.length() - header.stripTrailing().length() < 8);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertArrayEquals(new int[] {len}, f.ints("x".repeat(len)));
            }
        }
    }

    /** The bytes the published format prescribes, built by hand, for a two-tensor file with metadata. */
    @Test
    void goldenBytes() throws IOException {
        Path file = tmp.resolve("golden.safetensors");
        SafetensorsWriter.write(file, List.of(
                        TensorData.ofFloats("b", new long[] {1}, new float[] {1.0f}, DType.BF16),
                        TensorData.ofFloats("a", new long[] {2}, new float[] {1.0f, -2.0f}, DType.F32)),
                Map.of("format", "pt"));
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]}}";
        assertEquals(140, json.length());
        byte[] expected = concat(
                HexFormat.of().parseHex("9000000000000000"), // 144 = 140 bytes of JSON + 4 spaces
                (json + "    ").getBytes(StandardCharsets.US_ASCII),
                HexFormat.of().parseHex("0000803f" + "000000c0"), // 1.0f, -2.0f little-endian
                HexFormat.of().parseHex("803f")); // bf16 1.0
        assertEquals(HexFormat.of().formatHex(expected), HexFormat.of().formatHex(Files.readAllBytes(file)));
    }

    // --- corrupt files: each is refused with a message naming the file and, where relevant, the tensor ---

    @Test
    void rejectsHeaderLengthBeyondFile() throws IOException {
        Path file = validFile();
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, bytes.length);
        Files.write(file, bytes);
        assertRejected(file, null, "beyond the end of the file");
        Files.write(file, new byte[] {1, 2, 3});
        assertRejected(file, null, "too short");
        Files.write(file, HexFormat.of().parseHex("ffffffffffffffff"));
        assertRejected(file, null, "18446744073709551615 is beyond");
    }

    @Test
    void rejectsInvalidJson() throws IOException {
        assertRejected(withHeader("{\"w\":{\"dtype\":\"F32\",", 0), null, "not valid JSON");
        assertRejected(withHeader("[1,2]", 0), null, "not a JSON object");
        assertRejected(withHeader("{\"w\":1,\"w\":2}", 0), null, "not valid JSON");
        Path badUtf8 = tmp.resolve("utf8.safetensors");
        byte[] header = {'{', '"', (byte) 0xC3, '"', ':', '1', '}', ' '};
        Files.write(badUtf8, concat(HexFormat.of().parseHex("0800000000000000"), header));
        assertRejected(badUtf8, null, "not valid UTF-8");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        assertRejected(file, "w", "unknown dtype 'F64'");
    }

    @Test
    void rejectsHeaderThatLiesAboutSizes() throws IOException {
        Path file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        assertRejected(file, "w", "header lies about sizes");
    }

    @Test
    void rejectsOverlapsAndGaps() throws IOException {
        Path overlap = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertRejected(overlap, "b", "overlap tensor 'a'");
        Path gap = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
        assertRejected(gap, "b", "gap");
        Path late = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertRejected(late, "a", "gap");
        Path backwards = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8);
        assertRejected(backwards, "a", "end before they begin");
        Path negative = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
        assertRejected(negative, "a", "shape[0] = -1");
    }

    @Test
    void rejectsOffsetsOutOfRange() throws IOException {
        Path file = withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        assertRejected(file, "a", "truncated");
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        Path file = validFile();
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 1));
        assertRejected(file, "z", "truncated"); // "z" is the last tensor in the data
    }

    @Test
    void rejectsBytesAfterTheLastTensor() throws IOException {
        Path file = validFile();
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length + 4));
        assertRejected(file, null, "4 bytes after the last tensor");
    }

    @Test
    void tensorDataValidatesSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TensorData("w", DType.F32, new long[] {2, 2}, new byte[12]));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("16 bytes"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> TensorData.ofFloats("w", new long[] {3}, new float[] {1, 2}, DType.F32));
        assertThrows(IllegalArgumentException.class,
                () -> TensorData.ofFloats("w", new long[] {1}, new float[] {1}, DType.I32));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(tmp.resolve("dup"), List.of(
                        TensorData.ofInts("x", new long[] {1}, new int[] {1}),
                        TensorData.ofInts("x", new long[] {1}, new int[] {2})), Map.of()));
    }

    private Path validFile() throws IOException {
        Path file = tmp.resolve("valid.safetensors");
        SafetensorsWriter.write(file, List.of(
                TensorData.ofFloats("a", new long[] {2}, new float[] {1, 2}, DType.F32),
                TensorData.ofFloats("z", new long[] {3}, new float[] {1, 2, 3}, DType.BF16)), Map.of());
        return file;
    }

    private Path withHeader(String json, int dataBytes) throws IOException {
        Path file = Files.createTempFile(tmp, "hand", ".safetensors");
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
        Files.write(file, concat(len.array(), header, new byte[dataBytes]));
        return file;
    }

    private static void assertRejected(Path file, String tensor, String reason) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(reason), "says '" + reason + "': " + e.getMessage());
        assertEquals(file, e.file());
        assertEquals(tensor, e.tensor(), e.getMessage());
        if (tensor != null) {
            assertTrue(e.getMessage().contains("'" + tensor + "'"), "names the tensor: " + e.getMessage());
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
