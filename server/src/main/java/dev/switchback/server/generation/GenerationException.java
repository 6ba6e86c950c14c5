package dev.switchback.server.generation;

/**
 * Why a generation was refused or failed, in terms both protocols map: HTTP status codes and gRPC status codes.
 * The message is meant for the API user; it never carries a stack trace.
 */
public final class GenerationException extends RuntimeException {
    /** The kinds of failure, each with its HTTP status and gRPC code name. */
    public enum Kind {
        INVALID_ARGUMENT(400, "INVALID_ARGUMENT", "invalid_request_error"),
        NOT_FOUND(404, "NOT_FOUND", "invalid_request_error"),
        RESOURCE_EXHAUSTED(429, "RESOURCE_EXHAUSTED", "rate_limit_error"),
        DEADLINE_EXCEEDED(504, "DEADLINE_EXCEEDED", "timeout_error"),
        UNAVAILABLE(503, "UNAVAILABLE", "server_error"),
        CANCELLED(499, "CANCELLED", "cancelled"),
        INTERNAL(500, "INTERNAL", "server_error");

        private final int httpStatus;
        private final String grpcCode;
        private final String openAiType;

        Kind(int httpStatus, String grpcCode, String openAiType) {
            this.httpStatus = httpStatus;
            this.grpcCode = grpcCode;
            this.openAiType = openAiType;
        }

        public int httpStatus() {
            return httpStatus;
        }

        /** The name of the matching {@code io.grpc.Status.Code}. */
        public String grpcCode() {
            return grpcCode;
        }

        /** The OpenAI error body's {@code type}. */
        public String openAiType() {
            return openAiType;
        }
    }

    private final Kind kind;
    private final String param;

    /** @param param the request field at fault, or null */
    public GenerationException(Kind kind, String message, String param) {
        super(message, null, false, false);
        this.kind = kind;
        this.param = param;
    }

    public Kind kind() {
        return kind;
    }

    /** The request field at fault, or null. */
    public String param() {
        return param;
    }
}
