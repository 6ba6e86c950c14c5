package dev.switchback.kernels.engine;

import dev.switchback.store.OpenedModel;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.store.safetensors.TensorInfo;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Named tensors the engine loads its weights from: a model folder's safetensors files, or arrays in memory. */
public interface TensorSource {
    /** The tensor's shape, or null when there is no such tensor. */
    long[] shape(String name);

    /** The values as floats (widened from BF16/F16). */
    float[] floats(String name);

    /** The raw bfloat16 bits when the tensor is stored as BF16, else null. */
    short[] bf16Bits(String name);

    /** The values of an integer tensor. */
    int[] ints(String name);

    /** Where a tensor comes from, for error messages. */
    String describe(String name);

    /** The safetensors files of an opened (checksum-verified) model folder. */
    static TensorSource of(OpenedModel model) {
        List<SafetensorsFile> files = new ArrayList<>();
        files.add(model.weights());
        for (int layer : model.manifest().sparseLayers()) {
            files.add(model.experts(layer));
        }
        return new Files(files);
    }

    /** F32 tensors held in memory (benchmarks with random weights, tests). */
    static TensorSource of(Map<String, float[]> values, Map<String, long[]> shapes, Map<String, int[]> ints) {
        return new Arrays(values, shapes, ints);
    }

    /** Tensors spread over several safetensors files (shared weights and one experts file per layer). */
    record Files(List<SafetensorsFile> files) implements TensorSource {
        private SafetensorsFile fileOf(String name) {
            for (SafetensorsFile f : files) {
                if (f.contains(name)) {
                    return f;
                }
            }
            return null;
        }

        @Override
        public long[] shape(String name) {
            SafetensorsFile f = fileOf(name);
            return f == null ? null : f.info(name).shape();
        }

        @Override
        public float[] floats(String name) {
            return fileOf(name).floats(name);
        }

        @Override
        public short[] bf16Bits(String name) {
            SafetensorsFile f = fileOf(name);
            TensorInfo info = f.info(name);
            if (info.dtype() != DType.BF16) {
                return null;
            }
            return f.segment(name).toArray(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        }

        @Override
        public int[] ints(String name) {
            return fileOf(name).ints(name);
        }

        @Override
        public String describe(String name) {
            SafetensorsFile f = fileOf(name);
            return f == null ? "the model's files" : f.path().getFileName().toString();
        }
    }

    /** Tensors given as arrays. */
    record Arrays(Map<String, float[]> values, Map<String, long[]> shapes, Map<String, int[]> intValues) implements TensorSource {
        @Override
        public long[] shape(String name) {
            return shapes.get(name);
        }

        @Override
        public float[] floats(String name) {
            return values.get(name);
        }

        @Override
        public short[] bf16Bits(String name) {
            return null;
        }

        @Override
        public int[] ints(String name) {
            return intValues.get(name);
        }

        @Override
        public String describe(String name) {
            return "memory";
        }
    }
}
