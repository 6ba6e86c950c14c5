package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Failures as the gRPC statuses a client sees: the kind's code and its user-facing message, never a stack trace. */
final class GrpcStatuses {
    private static final System.Logger LOG = System.getLogger(GrpcStatuses.class.getName());

    private GrpcStatuses() {}

    static StatusRuntimeException of(GenerationException e) {
        return Status.Code.valueOf(e.kind().grpcCode()).toStatus().withDescription(e.getMessage()).asRuntimeException();
    }

    /** Anything else is a bug on our side: the client learns only that, the log gets the details. */
    static StatusRuntimeException of(Throwable t) {
        if (t instanceof GenerationException e) {
            return of(e);
        }
        LOG.log(System.Logger.Level.WARNING, "generation failed unexpectedly", t);
        return Status.INTERNAL.withDescription("internal error").asRuntimeException();
    }
}
