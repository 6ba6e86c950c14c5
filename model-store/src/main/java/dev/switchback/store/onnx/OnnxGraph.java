package dev.switchback.store.onnx;

import java.util.ArrayList;
import java.util.List;

/**
 * A GraphProto under construction: nodes in topological order (each added after its inputs), initializers for
 * weights and constants, and the graph's inputs and outputs. Intermediate values get generated names.
 */
final class OnnxGraph {
    private final List<ProtoMessage> nodes = new ArrayList<>();
    private final List<ProtoMessage> initializers = new ArrayList<>();
    private final List<ProtoMessage> inputs = new ArrayList<>();
    private final List<ProtoMessage> outputs = new ArrayList<>();
    private long initializerBytes;
    private int next;

    /** Adds a node with one generated output and returns that output's name. */
    String op(String opType, String... inputs) {
        return op(opType, List.of(), inputs);
    }

    /** Adds a node with attributes and one generated output and returns that output's name. */
    String op(String opType, List<Onnx.Attribute> attributes, String... inputs) {
        String output = opType.toLowerCase() + "_" + next;
        opTo(output, opType, attributes, inputs);
        return output;
    }

    /** Adds a node whose output has a given name (a graph output, e.g. {@code present.0.key}). */
    void opTo(String output, String opType, List<Onnx.Attribute> attributes, String... inputs) {
        nodes.add(Onnx.node(opType + "_" + next++, opType, inputs, new String[] {output},
                attributes.toArray(Onnx.Attribute[]::new)));
    }

    /** A float32 initializer named {@code name}. */
    String weight(String name, float[] values, long... dims) {
        ProtoMessage t = Onnx.floatTensor(name, values, dims);
        initializers.add(t);
        initializerBytes += t.size();
        return name;
    }

    /** A 1-D int64 constant (shapes, axes). */
    String ints(long... values) {
        String name = "const_" + next++;
        initializers.add(Onnx.int64Tensor(name, values, values.length));
        return name;
    }

    /** A 0-D int64 constant. */
    String scalar(long value) {
        String name = "const_" + next++;
        initializers.add(Onnx.int64Tensor(name, new long[] {value}));
        return name;
    }

    /** A 0-D float32 constant. */
    String scalar(float value) {
        String name = "const_" + next++;
        initializers.add(Onnx.floatTensor(name, new float[] {value}));
        return name;
    }

    void input(ProtoMessage valueInfo) {
        inputs.add(valueInfo);
    }

    void output(ProtoMessage valueInfo) {
        outputs.add(valueInfo);
    }

    /** Bytes of weights added so far. */
    long initializerBytes() {
        return initializerBytes;
    }

    ProtoMessage build(String name) {
        ProtoMessage g = new ProtoMessage();
        nodes.forEach(n -> g.message(1, n));
        g.string(2, name);
        initializers.forEach(t -> g.message(5, t));
        inputs.forEach(i -> g.message(11, i));
        outputs.forEach(o -> g.message(12, o));
        return g;
    }
}
