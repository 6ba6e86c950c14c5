package dev.switchback.store.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * The part of onnx.proto (ONNX IR version {@value #IR_VERSION}) an exporter needs, as message builders: field
 * numbers as in onnx.proto, so any ONNX reader (ONNX Runtime, onnx.checker, Netron) parses what these write.
 */
final class Onnx {
    /** IR version 8 goes with opset 17 (ONNX 1.12). */
    static final long IR_VERSION = 8;

    // TensorProto.DataType
    static final int FLOAT = 1;
    static final int INT64 = 7;
    static final int BOOL = 9;

    private Onnx() {}

    /** ModelProto: the graph with the operator set it is written against. */
    static ProtoMessage model(ProtoMessage graph, int opset, String producer, String producerVersion, Map<String, String> metadata) {
        ProtoMessage opsetId = new ProtoMessage().string(1, "").varint(2, opset);
        ProtoMessage m = new ProtoMessage()
                .varint(1, IR_VERSION)
                .string(2, producer)
                .string(3, producerVersion)
                .message(7, graph)
                .message(8, opsetId);
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            m.message(14, new ProtoMessage().string(1, e.getKey()).string(2, e.getValue()));
        }
        return m;
    }

    /** TensorProto of float32 values, stored as little-endian raw_data. */
    static ProtoMessage floatTensor(String name, float[] values, long... dims) {
        checkCount(name, values.length, dims);
        ByteBuffer raw = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(values);
        return tensor(name, FLOAT, raw.array(), dims);
    }

    /** TensorProto of int64 values, stored as little-endian raw_data. */
    static ProtoMessage int64Tensor(String name, long[] values, long... dims) {
        checkCount(name, values.length, dims);
        ByteBuffer raw = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asLongBuffer().put(values);
        return tensor(name, INT64, raw.array(), dims);
    }

    private static ProtoMessage tensor(String name, int dataType, byte[] raw, long[] dims) {
        ProtoMessage t = new ProtoMessage();
        for (long d : dims) {
            t.varint(1, d);
        }
        return t.varint(2, dataType).string(8, name).bytes(9, raw);
    }

    private static void checkCount(String name, int count, long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        if (n != count) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + count + " values for dims "
                    + java.util.Arrays.toString(dims));
        }
    }

    /**
     * ValueInfoProto of a tensor: each dimension a fixed size ({@link Number}) or a symbolic name ({@link String}),
     * as exporters name dynamic axes ({@code batch_size}, {@code sequence_length}).
     */
    static ProtoMessage valueInfo(String name, int elemType, Object... dims) {
        ProtoMessage shape = new ProtoMessage();
        for (Object d : dims) {
            ProtoMessage dim = switch (d) {
                case Number n -> new ProtoMessage().varint(1, n.longValue());
                case String s -> new ProtoMessage().string(2, s);
                default -> throw new IllegalArgumentException("a dimension is a number or a name, got " + d);
            };
            shape.message(1, dim);
        }
        ProtoMessage tensorType = new ProtoMessage().varint(1, elemType).message(2, shape);
        ProtoMessage type = new ProtoMessage().message(1, tensorType);
        return new ProtoMessage().string(1, name).message(2, type);
    }

    /** An attribute of a node. */
    sealed interface Attribute {
        String name();

        /** An INT attribute. */
        record Int(String name, long value) implements Attribute {}

        /** An INTS attribute. */
        record Ints(String name, long... values) implements Attribute {}

        /** A FLOAT attribute. */
        record F32(String name, float value) implements Attribute {}

        /** A TENSOR attribute (a Constant node's value). */
        record Tensor(String name, ProtoMessage value) implements Attribute {}
    }

    /** AttributeProto, with its type discriminator (required since IR version 2). */
    static ProtoMessage attribute(Attribute a) {
        ProtoMessage m = new ProtoMessage().string(1, a.name());
        return switch (a) {
            case Attribute.Int i -> m.varint(3, i.value()).varint(20, 2);
            case Attribute.Ints is -> {
                for (long v : is.values()) {
                    m.varint(8, v);
                }
                yield m.varint(20, 7);
            }
            case Attribute.F32 f -> m.float32(2, f.value()).varint(20, 1);
            case Attribute.Tensor t -> m.message(5, t.value()).varint(20, 4);
        };
    }

    /** NodeProto of the default (ai.onnx) domain. */
    static ProtoMessage node(String name, String opType, String[] inputs, String[] outputs, Attribute... attributes) {
        ProtoMessage n = new ProtoMessage();
        for (String in : inputs) {
            n.string(1, in);
        }
        for (String out : outputs) {
            n.string(2, out);
        }
        n.string(3, name).string(4, opType);
        for (Attribute a : attributes) {
            n.message(5, attribute(a));
        }
        return n;
    }
}
