package dev.switchback.server.http;

/** A request the HTTP layer refuses before it reaches the service, carrying the error to send. */
final class RequestException extends RuntimeException {
    private final ApiError error;

    RequestException(ApiError error) {
        super(error.message(), null, false, false);
        this.error = error;
    }

    ApiError error() {
        return error;
    }
}
