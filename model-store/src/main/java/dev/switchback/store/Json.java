package dev.switchback.store;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.switchback.store.model.ConfigException;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reading and writing the folder's JSON files as validated records.
 *
 * <p>Every content error becomes a {@link ConfigException} whose field is the JSON path of the culprit
 * ({@code config.dModel}, {@code references[2].logits}) and whose message names the file.
 */
final class Json {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private static final Pattern MISSING_CREATOR = Pattern.compile("Missing required creator property '([^']+)'");

    private Json() {}

    static <T extends Record> T read(Path file, Class<T> type) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new ConfigException(file.getFileName().toString(), "invalid JSON in " + file + ": " + e.getOriginalMessage());
        }
        if (tree == null || !tree.isObject()) {
            throw new ConfigException(file.getFileName().toString(), "must be a JSON object (" + file + ")");
        }
        // A missing primitive would silently become 0 or false; absent objects become null, which records reject.
        requirePrimitives(tree, type, null, "", file);
        T value;
        try {
            value = MAPPER.treeToValue(tree, type);
        } catch (ValueInstantiationException e) {
            if (e.getCause() instanceof ConfigException c) {
                throw new ConfigException(within(path(e), c.field()), reason(c) + " (in " + file + ")");
            }
            throw new ConfigException(path(e), e.getOriginalMessage() + " (in " + file + ")");
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException(path(e), "unknown field (in " + file + "; known: " + e.getKnownPropertyIds() + ")");
        } catch (JsonMappingException e) {
            String path = path(e);
            Matcher m = MISSING_CREATOR.matcher(e.getOriginalMessage());
            if (m.find()) {
                throw new ConfigException(qualify(path, m.group(1)), "is required (in " + file + ")");
            }
            if (e.getOriginalMessage().startsWith("Cannot map `null` into type")) {
                // What Jackson says of a primitive that is null, or absent from a polymorphic object.
                throw new ConfigException(path, "is required (in " + file + ")");
            }
            throw new ConfigException(path.isEmpty() ? file.getFileName().toString() : path,
                    firstLine(e.getOriginalMessage()) + " (in " + file + ")");
        } catch (JacksonException e) {
            throw new ConfigException(file.getFileName().toString(), firstLine(e.getOriginalMessage()) + " (in " + file + ")");
        }
        requirePrimitives(tree, value.getClass(), value, "", file); // again with run-time types (architectures)
        return value;
    }

    static void write(Path file, Object value) throws IOException {
        byte[] bytes = MAPPER.writeValueAsBytes(value);
        byte[] line = java.util.Arrays.copyOf(bytes, bytes.length + 1);
        line[bytes.length] = '\n';
        Files.write(file, line);
        Disk.fsync(file);
    }

    /** Throws if a primitive component of record {@code type} (or of a nested record) is absent from {@code node}. */
    private static void requirePrimitives(JsonNode node, Class<?> type, Object value, String path, Path file) {
        if (!type.isRecord() || !node.isObject()) {
            return;
        }
        for (RecordComponent c : type.getRecordComponents()) {
            JsonNode child = node.get(c.getName());
            String childPath = qualify(path, c.getName());
            if (child == null) {
                if (c.getType().isPrimitive()) {
                    throw new ConfigException(childPath, "is required (in " + file + ")");
                }
                continue;
            }
            Object childValue = value == null ? null : component(c, value);
            Class<?> childType = childValue == null ? c.getType() : childValue.getClass();
            requirePrimitives(child, childType, childValue, childPath, file);
        }
    }

    private static Object component(RecordComponent c, Object record) {
        try {
            return c.getAccessor().invoke(record);
        } catch (IllegalAccessException | InvocationTargetException e) {
            return null; // a non-public record: check by static type only
        }
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    private static String qualify(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    /** The JSON path of a field a record names in its own terms; ModelConfig calls its fields {@code model.*}. */
    private static String within(String path, String field) {
        if (field.startsWith("model.") && !path.isEmpty()) {
            return path + field.substring("model".length());
        }
        return qualify(path, field);
    }

    private static String reason(ConfigException c) {
        String prefix = c.field() + ": ";
        return c.getMessage().startsWith(prefix) ? c.getMessage().substring(prefix.length()) : c.getMessage();
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
