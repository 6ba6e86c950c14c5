package dev.switchback.server.cluster;

import dev.switchback.server.grpc.proto.JoinReply;
import dev.switchback.server.grpc.proto.JoinRequest;
import dev.switchback.server.grpc.proto.RendezvousGrpc;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * How the ranks of an NCCL group that spans processes or hosts get the group's unique id over gRPC: rank 0 makes it
 * ({@code Nccl.uniqueId()}) and serves it with {@link #host}; every other rank calls {@link #join} with rank 0's
 * address, then all of them create their communicators with it ({@code Nccl.join}). Rank 0 refuses a rank that names
 * another group or group size, a rank out of range, and a rank that joins twice, each with a status that says why;
 * a joining rank retries while rank 0 is not up yet, until its deadline.
 */
public final class NcclRendezvous {
    private NcclRendezvous() {}

    /** Rank 0's side: serves the id until closed; {@link #awaitJoined} waits for every other rank. */
    public static final class Host implements AutoCloseable {
        private final Server server;
        private final CountDownLatch joined;
        private final boolean[] seen;

        private Host(Server server, CountDownLatch joined, boolean[] seen) {
            this.server = server;
            this.joined = joined;
            this.seen = seen;
        }

        /** The bound port. */
        public int port() {
            return server.getPort();
        }

        /** Whether every other rank had its id within {@code timeout}. */
        public boolean awaitJoined(Duration timeout) throws InterruptedException {
            return joined.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** Ranks that have not asked for the id yet. */
        public java.util.List<Integer> missing() {
            java.util.List<Integer> out = new java.util.ArrayList<>();
            synchronized (seen) {
                for (int r = 1; r < seen.length; r++) {
                    if (!seen[r]) {
                        out.add(r);
                    }
                }
            }
            return out;
        }

        @Override
        public void close() {
            server.shutdownNow();
        }
    }

    /**
     * Starts rank 0's rendezvous on {@code address} (port 0: any free one) for a group of {@code world} ranks named
     * {@code group}, handing out {@code id}.
     */
    public static Host host(InetSocketAddress address, String group, int world, byte[] id) throws IOException {
        Objects.requireNonNull(group, "group");
        if (world < 2) {
            throw new IllegalArgumentException("a rendezvous is for groups of 2 or more ranks, got " + world);
        }
        ByteString idBytes = ByteString.copyFrom(id);
        CountDownLatch joined = new CountDownLatch(world - 1);
        boolean[] seen = new boolean[world];
        RendezvousGrpc.RendezvousImplBase service = new RendezvousGrpc.RendezvousImplBase() {
            @Override
            public void join(JoinRequest request, StreamObserver<JoinReply> reply) {
                Status refused = null;
                if (!request.getGroup().equals(group)) {
                    refused = Status.FAILED_PRECONDITION.withDescription("this is group '" + group + "', not '" + request.getGroup() + "'");
                } else if (request.getWorld() != world) {
                    refused = Status.FAILED_PRECONDITION.withDescription("group '" + group + "' has " + world + " ranks; rank "
                            + request.getRank() + " (" + request.getHost() + ") counts " + request.getWorld());
                } else if (request.getRank() < 1 || request.getRank() >= world) {
                    refused = Status.INVALID_ARGUMENT.withDescription("rank " + request.getRank() + " of " + world
                            + ": rank 0 is this host, the others are 1 to " + (world - 1));
                } else {
                    synchronized (seen) {
                        if (seen[request.getRank()]) {
                            refused = Status.ALREADY_EXISTS.withDescription("rank " + request.getRank() + " has joined already");
                        } else {
                            seen[request.getRank()] = true;
                        }
                    }
                }
                if (refused != null) {
                    reply.onError(refused.asRuntimeException());
                    return;
                }
                reply.onNext(JoinReply.newBuilder().setNcclUniqueId(idBytes).build());
                reply.onCompleted();
                joined.countDown();
            }
        };
        Server server = NettyServerBuilder.forAddress(address).addService(service).build().start();
        return new Host(server, joined, seen);
    }

    /**
     * Rank {@code rank}'s side: asks rank 0 at {@code target} ({@code host:port}) for the id of group {@code group} of
     * {@code world} ranks, retrying while rank 0 is not reachable, for up to {@code timeout}.
     *
     * @throws IllegalStateException rank 0 refused (the reason included) or could not be reached in time
     */
    public static byte[] join(String target, String group, int world, int rank, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String self;
        try {
            self = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            self = "unknown host";
        }
        JoinRequest request = JoinRequest.newBuilder().setGroup(group).setWorld(world).setRank(rank).setHost(self).build();
        ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                try {
                    return RendezvousGrpc.newBlockingStub(channel).withDeadlineAfter(Math.max(1, left), TimeUnit.NANOSECONDS)
                            .join(request).getNcclUniqueId().toByteArray();
                } catch (StatusRuntimeException e) {
                    Status.Code code = e.getStatus().getCode();
                    boolean retry = code == Status.Code.UNAVAILABLE && deadline - System.nanoTime() > 0;
                    if (!retry) {
                        throw new IllegalStateException("rank " + rank + " could not join group '" + group + "' at " + target
                                + ": " + code + (e.getStatus().getDescription() != null ? ": " + e.getStatus().getDescription() : ""));
                    }
                    Thread.sleep(Math.min(200, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
                }
            }
        } finally {
            channel.shutdownNow();
        }
    }
}
