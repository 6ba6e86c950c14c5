package dev.switchback.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * The gRPC rendezvous of an NCCL group over loopback (no GPU needed: the id is opaque bytes here): every rank gets
 * rank 0's id, a rank that starts before rank 0 waits for it, and a wrong group, group size, rank or a second join of
 * one rank is refused with the reason.
 */
class NcclRendezvousTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    private static byte[] id(int seed) {
        byte[] id = new byte[128];
        for (int i = 0; i < id.length; i++) {
            id[i] = (byte) (seed * 31 + i);
        }
        return id;
    }

    @Test
    void everyRankGetsRankZerosIdAndRankZeroSeesThemAll() throws Exception {
        byte[] id = id(3);
        try (NcclRendezvous.Host host = NcclRendezvous.host(new InetSocketAddress("127.0.0.1", 0), "experts", 3, id)) {
            String target = "127.0.0.1:" + host.port();
            assertEquals(List.of(1, 2), host.missing());
            assertFalse(host.awaitJoined(Duration.ofMillis(50)));
            assertArrayEquals(id, NcclRendezvous.join(target, "experts", 3, 2, WAIT));
            assertEquals(List.of(1), host.missing());
            assertArrayEquals(id, NcclRendezvous.join(target, "experts", 3, 1, WAIT));
            assertTrue(host.awaitJoined(WAIT));
            assertEquals(List.of(), host.missing());
        }
    }

    @Test
    void aRankStartedBeforeRankZeroWaitsForIt() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        CompletableFuture<byte[]> early = CompletableFuture.supplyAsync(() -> {
            try {
                return NcclRendezvous.join("127.0.0.1:" + port, "g", 2, 1, WAIT);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(500); // the rank is retrying against a closed port
        assertFalse(early.isDone());
        byte[] id = id(5);
        try (NcclRendezvous.Host host = NcclRendezvous.host(new InetSocketAddress("127.0.0.1", port), "g", 2, id)) {
            assertArrayEquals(id, early.get());
            assertTrue(host.awaitJoined(WAIT));
        }
    }

    @Test
    void wrongGroupsRanksAndSecondJoinsAreRefusedWithTheReason() throws Exception {
        try (NcclRendezvous.Host host = NcclRendezvous.host(new InetSocketAddress("127.0.0.1", 0), "experts", 2, id(1))) {
            String target = "127.0.0.1:" + host.port();
            assertEquals("rank 1 could not join group 'other' at " + target + ": FAILED_PRECONDITION: this is group 'experts', not 'other'",
                    assertThrows(IllegalStateException.class, () -> NcclRendezvous.join(target, "other", 2, 1, WAIT)).getMessage());
            assertTrue(assertThrows(IllegalStateException.class, () -> NcclRendezvous.join(target, "experts", 4, 1, WAIT)).getMessage()
                    .endsWith("FAILED_PRECONDITION: group 'experts' has 2 ranks; rank 1 (" + java.net.InetAddress.getLocalHost().getHostName()
                            + ") counts 4"));
            assertTrue(assertThrows(IllegalStateException.class, () -> NcclRendezvous.join(target, "experts", 2, 0, WAIT)).getMessage()
                    .endsWith("INVALID_ARGUMENT: rank 0 of 2: rank 0 is this host, the others are 1 to 1"));
            NcclRendezvous.join(target, "experts", 2, 1, WAIT);
            assertTrue(assertThrows(IllegalStateException.class, () -> NcclRendezvous.join(target, "experts", 2, 1, WAIT)).getMessage()
                    .endsWith("ALREADY_EXISTS: rank 1 has joined already"));
            assertTrue(host.awaitJoined(WAIT));
        }
        assertThrows(IllegalArgumentException.class,
                () -> NcclRendezvous.host(new InetSocketAddress("127.0.0.1", 0), "solo", 1, id(2)));
    }

    @Test
    void aRankGivesUpWhenRankZeroNeverComes() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NcclRendezvous.join("127.0.0.1:" + port, "g", 2, 1, Duration.ofMillis(600)));
        assertTrue(e.getMessage().startsWith("rank 1 could not join group 'g' at 127.0.0.1:" + port + ": "), e.getMessage());
    }
}
