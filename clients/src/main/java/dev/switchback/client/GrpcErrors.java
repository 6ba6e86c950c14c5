package dev.switchback.client;

import dev.switchback.server.generation.GenerationException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** gRPC failures as {@link SwitchbackException}s carrying the HTTP status the HTTP API gives the same failure. */
final class GrpcErrors {
    private GrpcErrors() {}

    static SwitchbackException of(StatusRuntimeException e, String url) {
        Status status = e.getStatus();
        // A server's own UNAVAILABLE has no cause; the channel's, when it cannot connect, has the socket error.
        if (status.getCode() == Status.Code.UNAVAILABLE && status.getCause() != null) {
            return new SwitchbackException(0, "connection_error", "cannot connect to " + url + " ("
                    + rootMessage(status.getCause()) + ")", e);
        }
        String message = status.getDescription() != null ? status.getDescription() : status.getCode().toString();
        return new SwitchbackException(httpStatus(status.getCode()), status.getCode().name(), message, e);
    }

    static int httpStatus(Status.Code code) {
        for (GenerationException.Kind kind : GenerationException.Kind.values()) {
            if (kind.grpcCode().equals(code.name())) {
                return kind.httpStatus();
            }
        }
        return switch (code) {
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case UNIMPLEMENTED -> 501;
            default -> 500;
        };
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }
}
