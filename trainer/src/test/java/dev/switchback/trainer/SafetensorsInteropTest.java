package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our safetensors files against an independent implementation: DJL's reader and writer. */
class SafetensorsInteropTest {

    @Test
    void filesWeWriteOpenInDjlsReader(@TempDir Path dir) throws Exception {
        SplittableRandom rng = new SplittableRandom(4);
        float[] values = new float[3 * 5];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (rng.nextDouble() * 8 - 4);
        }
        int[] table = {0, 3, 1, 2, 2, 1, 0};
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, List.of(
                TensorData.ofFloats("w.f32", new long[] {3, 5}, values, DType.F32),
                TensorData.ofFloats("w.f16", new long[] {3, 5}, values, DType.F16),
                TensorData.ofInts("hash.table", new long[] {7}, table)), Map.of("format", "pt"));

        Map<String, NDArray> byName = new HashMap<>();
        try (NDManager m = NDManager.newBaseManager()) {
            for (NDArray a : NDList.decode(m, Files.readAllBytes(file))) {
                byName.put(a.getName(), a);
            }
            // BF16 is left out: DJL's PyTorch engine aborts the JVM when creating a bfloat16 tensor from a buffer.
            assertEquals(3, byName.size());
            assertEquals(new Shape(3, 5), byName.get("w.f32").getShape());
            assertArrayEquals(values, byName.get("w.f32").toFloatArray());
            assertEquals(DataType.FLOAT16, byName.get("w.f16").getDataType());
            assertArrayEquals(values, byName.get("w.f16").toType(DataType.FLOAT32, false).toFloatArray(), 4e-3f);
            assertArrayEquals(table, byName.get("hash.table").toIntArray());
        }
    }

    @Test
    void filesDjlWritesOpenInOurReader(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("djl.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.125f}, new Shape(2, 3));
            a.setName("a");
            NDArray b = m.create(new int[] {9, 8, 7});
            b.setName("b");
            try (OutputStream out = Files.newOutputStream(file)) {
                new NDList(a, b).encode(out, NDList.Encoding.SAFETENSORS);
            }
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new long[] {2, 3}, f.info("a").shape());
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.125f}, f.floats("a"));
            assertArrayEquals(new int[] {9, 8, 7}, f.ints("b"));
        }
    }
}
