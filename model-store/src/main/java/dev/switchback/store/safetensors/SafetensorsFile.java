package dev.switchback.store.safetensors;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped, validated safetensors file; tensors are read in place, without copying, until {@link #close}.
 *
 * <p>{@link #open} refuses a file whose header does not describe its data exactly. Instances may be read from
 * several threads; segments must not be used after {@link #close}.
 */
public final class SafetensorsFile implements AutoCloseable {
    static final String METADATA_KEY = "__metadata__";
    /** Larger headers are refused before being read (the reference implementation's limit). */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors; // in data order
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and validates {@code file}; throws {@link SafetensorsException} naming the file (and tensor). */
    public static SafetensorsFile open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(file, null, "file is " + size + " bytes, too short for the 8-byte header length");
            }
            ByteBuffer lengthBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lengthBuf, 0);
            long headerLength = lengthBuf.getLong(0);
            if (headerLength < 0 || headerLength > size - 8) {
                throw new SafetensorsException(file, null, "header length " + Long.toUnsignedString(headerLength)
                        + " is beyond the end of the file (" + size + " bytes)");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw new SafetensorsException(file, null, "header length " + headerLength + " exceeds the limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLength);
            readFully(ch, headerBuf, 8);
            long dataLength = size - 8 - headerLength;
            Header header = Header.parse(file, headerBuf.array(), dataLength);

            Arena arena = Arena.ofShared();
            try {
                MemorySegment data = dataLength == 0
                        ? MemorySegment.ofArray(new byte[0])
                        : ch.map(FileChannel.MapMode.READ_ONLY, 8 + headerLength, dataLength, arena);
                return new SafetensorsFile(file, arena, data, header.tensors, header.metadata);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names in the order their data lies in the file. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    /** Whether the file holds a tensor called {@code name}. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Dtype, shape and position of tensor {@code name}. */
    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new IllegalArgumentException(path + ": no tensor '" + name + "'");
        }
        return info;
    }

    /** The tensor's raw little-endian bytes, read-only and mapped from the file (valid until {@link #close}). */
    public MemorySegment segment(String name) {
        TensorInfo info = info(name);
        return data.asSlice(info.offset(), info.byteLength()).asReadOnly();
    }

    /** The tensor's values as floats, converted from F32, F16 or BF16. */
    public float[] floats(String name) {
        TensorInfo info = info(name);
        if (!info.dtype().isFloat()) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' is " + info.dtype() + ", not a float type");
        }
        return Codec.decodeFloats(segment(name), info.dtype(), elements(info));
    }

    /** The tensor's values as ints (I32 tensors only). */
    public int[] ints(String name) {
        TensorInfo info = info(name);
        if (info.dtype() != DType.I32) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' is " + info.dtype() + ", not I32");
        }
        return Codec.decodeInts(segment(name), elements(info));
    }

    /** The header's {@code __metadata__} (empty if absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Unmaps the file; segments handed out before become unusable. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    private int elements(TensorInfo info) {
        if (info.elementCount() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(path + ": tensor '" + info.name() + "' has " + info.elementCount()
                    + " elements, too many for a Java array; use segment()");
        }
        return (int) info.elementCount();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    /** The parsed and checked header. */
    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {

        static Header parse(Path file, byte[] bytes, long dataLength) throws SafetensorsException {
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new SafetensorsException(file, null, "header is not valid UTF-8");
            }
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JsonParseException e) {
                throw new SafetensorsException(file, null, "header is not valid JSON: " + e.getOriginalMessage());
            } catch (IOException e) {
                throw new SafetensorsException(file, null, "header is not valid JSON: " + e.getMessage());
            }
            if (root == null || !root.isObject()) {
                throw new SafetensorsException(file, null, "header is not a JSON object");
            }

            Map<String, String> metadata = Map.of();
            List<TensorInfo> infos = new ArrayList<>();
            for (Map.Entry<String, JsonNode> field : root.properties()) {
                String name = field.getKey();
                JsonNode node = field.getValue();
                if (name.equals(METADATA_KEY)) {
                    metadata = metadata(file, node);
                } else {
                    infos.add(tensor(file, name, node, dataLength));
                }
            }

            // Contiguity: sorted by offset, each tensor starts where the previous one ended and the last one ends
            // exactly at the end of the file.
            infos.sort(Comparator.comparingLong(TensorInfo::offset).thenComparingLong(TensorInfo::byteLength));
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            long expectedBegin = 0;
            TensorInfo previous = null;
            for (TensorInfo t : infos) {
                if (t.offset() < expectedBegin) {
                    throw new SafetensorsException(file, t.name(), "data_offsets [" + t.offset() + ", "
                            + (t.offset() + t.byteLength()) + ") overlap tensor '" + previous.name() + "' (ends at "
                            + expectedBegin + ")");
                }
                if (t.offset() > expectedBegin) {
                    throw new SafetensorsException(file, t.name(), "data_offsets start at " + t.offset()
                            + " but the previous tensor ends at " + expectedBegin + " (gap in the data)");
                }
                tensors.put(t.name(), t);
                expectedBegin = t.offset() + t.byteLength();
                previous = t;
            }
            if (expectedBegin != dataLength) {
                throw new SafetensorsException(file, null, (dataLength - expectedBegin)
                        + " bytes after the last tensor: the header does not describe the whole file");
            }
            return new Header(Collections.unmodifiableMap(tensors), metadata);
        }

        private static Map<String, String> metadata(Path file, JsonNode node) throws SafetensorsException {
            if (!node.isObject()) {
                throw new SafetensorsException(file, null, METADATA_KEY + " must be an object of strings");
            }
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!e.getValue().isTextual()) {
                    throw new SafetensorsException(file, null, METADATA_KEY + "." + e.getKey() + " must be a string");
                }
                metadata.put(e.getKey(), e.getValue().textValue());
            }
            return Collections.unmodifiableMap(metadata);
        }

        private static TensorInfo tensor(Path file, String name, JsonNode node, long dataLength)
                throws SafetensorsException {
            if (!node.isObject()) {
                throw new SafetensorsException(file, name, "header entry is not an object");
            }
            JsonNode dtypeNode = node.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw new SafetensorsException(file, name, "dtype is missing or not a string");
            }
            DType dtype = DType.fromHeader(dtypeNode.textValue());
            if (dtype == null) {
                throw new SafetensorsException(file, name, "unknown dtype '" + dtypeNode.textValue() + "' (supported: "
                        + java.util.Arrays.toString(DType.values()) + ")");
            }
            long[] shape = longs(file, name, "shape", node.get("shape"), -1);
            long[] offsets = longs(file, name, "data_offsets", node.get("data_offsets"), 2);
            long begin = offsets[0];
            long end = offsets[1];
            if (end < begin) {
                throw new SafetensorsException(file, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
            }
            long expected;
            try {
                expected = TensorData.byteLength(name, dtype, shape);
            } catch (IllegalArgumentException e) {
                throw new SafetensorsException(file, name, "shape " + Codec.shapeString(shape) + " is too large");
            }
            if (end - begin != expected) {
                throw new SafetensorsException(file, name, "header lies about sizes: shape " + Codec.shapeString(shape)
                        + " of " + dtype + " is " + expected + " bytes but data_offsets [" + begin + ", " + end
                        + "] span " + (end - begin));
            }
            if (end > dataLength) {
                throw new SafetensorsException(file, name, "data is truncated: data_offsets [" + begin + ", " + end
                        + "] go beyond the " + dataLength + " data bytes in the file");
            }
            return new TensorInfo(name, dtype, shape, begin, end - begin);
        }

        private static long[] longs(Path file, String tensor, String field, JsonNode node, int length)
                throws SafetensorsException {
            if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
                throw new SafetensorsException(file, tensor, field + " must be an array"
                        + (length >= 0 ? " of " + length + " integers" : " of integers"));
            }
            long[] out = new long[node.size()];
            for (int i = 0; i < out.length; i++) {
                JsonNode v = node.get(i);
                if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                    throw new SafetensorsException(file, tensor, field + "[" + i + "] = " + v
                            + " is not a non-negative integer");
                }
                out[i] = v.longValue();
            }
            return out;
        }
    }
}
