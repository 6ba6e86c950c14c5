package dev.switchback.store.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/** Writes a safetensors file and forces it to disk. */
public final class SafetensorsWriter {
    private static final JsonFactory JSON = new JsonFactory();

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file}, replacing it, and fsyncs it.
     *
     * <p>Tensors are laid out by decreasing element size (as the reference implementation does), so every tensor
     * starts on a multiple of its element size, then by name with numbers compared as numbers ({@code blocks.2}
     * before {@code blocks.10}), so the output does not depend on the list's order and layers lie in order.
     */
    public static void write(Path file, List<TensorData> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, length);
            writeFully(ch, ByteBuffer.wrap(header));
            for (TensorData t : layout(tensors)) {
                writeFully(ch, ByteBuffer.wrap(t.bytes()));
            }
            ch.force(true);
        }
    }

    /** The header JSON, padded with spaces so that the data starts at a multiple of 8 bytes. */
    static byte[] header(List<TensorData> tensors, Map<String, String> metadata) throws IOException {
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(metadata, "metadata");
        Set<String> seen = new HashSet<>();
        for (TensorData t : tensors) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' appears twice");
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsFile.METADATA_KEY);
                for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                    g.writeStringField(e.getKey(), Objects.requireNonNull(e.getValue(), "metadata " + e.getKey()));
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (TensorData t : layout(tensors)) {
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", t.dtype().name());
                long[] shape = t.shape();
                g.writeFieldName("shape");
                g.writeArray(shape, 0, shape.length);
                g.writeFieldName("data_offsets");
                g.writeArray(new long[] {offset, offset + t.bytes().length}, 0, 2);
                g.writeEndObject();
                offset += t.bytes().length;
            }
            g.writeEndObject();
        }
        int padded = (int) (((8L + out.size() + 7) / 8) * 8 - 8);
        byte[] header = Arrays.copyOf(out.toByteArray(), padded);
        Arrays.fill(header, out.size(), padded, (byte) ' ');
        return header;
    }

    private static List<TensorData> layout(List<TensorData> tensors) {
        List<TensorData> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingInt((TensorData t) -> -t.dtype().byteSize())
                .thenComparing(TensorData::name, SafetensorsWriter::compareNatural));
        return sorted;
    }

    /** Compares dot-separated names segment by segment, all-digit segments by value. */
    static int compareNatural(String a, String b) {
        String[] x = a.split("\\.", -1);
        String[] y = b.split("\\.", -1);
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c;
            if (isNumber(x[i]) && isNumber(y[i])) {
                c = x[i].length() != y[i].length() ? Integer.compare(x[i].length(), y[i].length()) : x[i].compareTo(y[i]);
            } else {
                c = x[i].compareTo(y[i]);
            }
            if (c != 0) {
                return c;
            }
        }
        int c = Integer.compare(x.length, y.length);
        return c != 0 ? c : a.compareTo(b);
    }

    private static boolean isNumber(String s) {
        return !s.isEmpty() && s.chars().allMatch(ch -> ch >= '0' && ch <= '9') && (s.length() == 1 || s.charAt(0) != '0');
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
