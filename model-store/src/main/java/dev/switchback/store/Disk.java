package dev.switchback.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Durability: a published model must survive a power cut after {@code commit} returns. */
final class Disk {
    private Disk() {}

    /** fsyncs a file, or a directory (Linux allows it on a read-only handle), which makes renames into it durable. */
    static void fsync(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
