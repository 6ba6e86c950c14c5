package dev.switchback.server.http;

import com.fasterxml.jackson.databind.JsonNode;

/** Typed reads of request fields; a wrong type is a 400 naming the field and what it held. */
final class JsonFields {
    private static final int SHOWN_CHARS = 40;

    private JsonFields() {}

    /** The field, or null when it is absent or JSON null (OpenAI treats both as "use the default"). */
    static JsonNode present(JsonNode object, String field) {
        JsonNode v = object.get(field);
        return v == null || v.isNull() ? null : v;
    }

    static String string(JsonNode object, String field) {
        JsonNode v = present(object, field);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw wrongType(field, "a string", v);
        }
        return v.textValue();
    }

    static Integer integer(JsonNode object, String field) {
        JsonNode v = present(object, field);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrongType(field, "an integer", v);
        }
        return v.intValue();
    }

    static Long longInteger(JsonNode object, String field) {
        JsonNode v = present(object, field);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrongType(field, "an integer", v);
        }
        return v.longValue();
    }

    static Double number(JsonNode object, String field) {
        JsonNode v = present(object, field);
        if (v == null) {
            return null;
        }
        if (!v.isNumber()) {
            throw wrongType(field, "a number", v);
        }
        return v.doubleValue();
    }

    static Boolean bool(JsonNode object, String field) {
        JsonNode v = present(object, field);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            throw wrongType(field, "a boolean", v);
        }
        return v.booleanValue();
    }

    static RequestException wrongType(String param, String expected, JsonNode got) {
        return invalid(param, param + " must be " + expected + ", got " + describe(got));
    }

    static RequestException invalid(String param, String message) {
        return new RequestException(ApiError.invalid(message, param));
    }

    private static String describe(JsonNode v) {
        String type = switch (v.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            default -> v.getNodeType().name().toLowerCase();
        };
        String text = v.toString();
        return type + " " + (text.length() > SHOWN_CHARS ? text.substring(0, SHOWN_CHARS) + "..." : text);
    }
}
