package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationException;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * An error as OpenAI clients expect it: an HTTP status and the body {@code {"error":{message,type,param,code}}}.
 *
 * @param param the request field at fault, or null
 * @param code a machine-readable code (e.g. {@code invalid_api_key}), or null
 */
record ApiError(HttpResponseStatus status, String type, String message, String param, String code) {
    static final String INVALID_REQUEST = "invalid_request_error";

    ApiError {
        if (status == null || type == null || message == null) {
            throw new IllegalArgumentException("status, type and message are required");
        }
    }

    static ApiError of(GenerationException e) {
        GenerationException.Kind kind = e.kind();
        String message = e.getMessage() == null ? kind.name().toLowerCase() : e.getMessage();
        return new ApiError(HttpResponseStatus.valueOf(kind.httpStatus()), kind.openAiType(), message, e.param(), null);
    }

    static ApiError invalid(String message, String param) {
        return new ApiError(HttpResponseStatus.BAD_REQUEST, INVALID_REQUEST, message, param, null);
    }

    static ApiError internal(String message) {
        return new ApiError(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", message, null, null);
    }
}
