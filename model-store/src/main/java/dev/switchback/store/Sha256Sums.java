package dev.switchback.store;

import dev.switchback.store.VerificationReport.Problem;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The {@code SHA256SUMS} file, in the format {@code sha256sum} writes and {@code sha256sum -c} checks. */
final class Sha256Sums {
    private Sha256Sums() {}

    static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                digest.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Writes one {@code <hex>  <name>} line per file (text mode: two spaces), sorted by name, and fsyncs. */
    static void write(Path file, Map<String, String> sha256ByName) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : new TreeMap<>(sha256ByName).entrySet()) {
            sb.append(e.getValue()).append("  ").append(e.getKey()).append('\n');
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8);
        Disk.fsync(file);
    }

    /** Reads the listed checksums by file name; malformed lines become problems and are skipped. */
    static Map<String, String> parse(Path file, List<Problem> problems) throws IOException {
        Map<String, String> sums = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            // "<64 hex><space><space or *><name>": sha256sum marks binary mode with '*'.
            boolean wellFormed = line.length() > 66 && line.substring(0, 64).matches("[0-9a-fA-F]{64}")
                    && line.charAt(64) == ' ' && (line.charAt(65) == ' ' || line.charAt(65) == '*');
            if (!wellFormed) {
                problems.add(new Problem(ModelFiles.CHECKSUMS, "line " + (i + 1) + " is not '<sha256>  <file>': " + line));
                continue;
            }
            String name = line.substring(66);
            if (sums.put(name, line.substring(0, 64).toLowerCase(java.util.Locale.ROOT)) != null) {
                problems.add(new Problem(ModelFiles.CHECKSUMS, "line " + (i + 1) + " lists " + name + " a second time"));
            }
        }
        return sums;
    }
}
