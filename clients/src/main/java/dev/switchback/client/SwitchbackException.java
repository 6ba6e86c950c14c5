package dev.switchback.client;

/**
 * A request the server refused or that never reached it. The message is the server's (OpenAI error message or gRPC
 * status description), or says why no answer came.
 */
public final class SwitchbackException extends RuntimeException {
    private final int status;
    private final String type;

    /**
     * @param status the HTTP status of the error (for gRPC, the HTTP status of the same failure); 0 when no error
     *     response came: no connection, no answer in time, or an error inside a stream
     * @param type the OpenAI error type or gRPC status code, e.g. {@code invalid_request_error}, {@code NOT_FOUND},
     *     {@code connection_error}
     */
    public SwitchbackException(int status, String type, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.type = type;
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    /** One line for a person: status and type when the server answered, then the message. */
    public String describe() {
        return status > 0 ? status + " " + type + ": " + getMessage() : getMessage();
    }
}
