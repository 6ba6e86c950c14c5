package dev.switchback.server.grpc;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps the open {@code grpc.health.v1.Health/Watch} calls so shutdown can end them: they never end by themselves,
 * and a graceful stop would otherwise wait its whole grace for them.
 */
final class HealthWatches implements ServerInterceptor {
    private final Set<ServerCall<?, ?>> open = ConcurrentHashMap.newKeySet();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!HealthGrpc.getWatchMethod().getFullMethodName().equals(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        ServerCall<Q, R> tracked = new SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                open.remove(this);
                super.close(status, trailers);
            }
        };
        open.add(tracked);
        ServerCall.Listener<Q> listener = next.startCall(tracked, headers);
        return new SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onCancel() {
                open.remove(tracked);
                super.onCancel();
            }
        };
    }

    /**
     * Ends every open watch with UNAVAILABLE. Call only after the health service entered its terminal state: it then
     * sends nothing more, so these closes cannot race its sends.
     */
    void closeAll() {
        for (ServerCall<?, ?> call : open) {
            call.close(Status.UNAVAILABLE.withDescription("server shutting down"), new Metadata());
        }
    }
}
