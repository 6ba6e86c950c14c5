package dev.switchback.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelStoreTest {
    @TempDir
    Path tmp;

    @Test
    void publishingTwiceMakesVersionsOneAndTwoAndLeavesTheFirstAlone() throws IOException {
        ModelStore store = new ModelStore(tmp);
        PublishedModel v1 = TinyModels.publish(store, "tiny", 1);
        assertEquals(1, v1.version());
        assertEquals(tmp.resolve("tiny").resolve("1"), v1.dir());
        Map<String, byte[]> before = contents(v1.dir());

        PublishedModel v2 = TinyModels.publish(store, "tiny", 2);
        assertEquals(2, v2.version());
        Map<String, byte[]> after = contents(v1.dir());
        assertEquals(before.keySet(), after.keySet());
        for (String f : before.keySet()) {
            assertArrayEquals(before.get(f), after.get(f), f);
        }
        assertNotEquals(v1.sha256ByFile().get(ModelFiles.WEIGHTS), v2.sha256ByFile().get(ModelFiles.WEIGHTS));
        assertEquals(List.of("tiny:1", "tiny:2"), store.list().stream().map(ModelRef::toString).toList());
        assertTrue(store.verify(v1.dir()).ok(), store.verify(v1.dir()).describe());
        assertTrue(store.verify(v2.dir()).ok());
    }

    @Test
    void concurrentPublishersGetDistinctVersions() throws Exception {
        ModelStore store = new ModelStore(tmp);
        int publishers = 3;
        CountDownLatch ready = new CountDownLatch(publishers);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<PublishedModel>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(publishers)) {
            for (int i = 0; i < publishers; i++) {
                long seed = i;
                results.add(pool.submit(() -> {
                    try (Publication p = store.begin("race")) {
                        TinyModels.write(p.dir(), "race", TinyModels.switchConfig(), DType.F32, seed);
                        ready.countDown();
                        go.await();
                        return p.commit();
                    }
                }));
            }
            ready.await();
            go.countDown();
            Set<Integer> versions = new java.util.TreeSet<>();
            for (Future<PublishedModel> f : results) {
                PublishedModel m = f.get();
                versions.add(m.version());
                assertEquals(m.sha256ByFile().get(ModelFiles.WEIGHTS),
                        Sha256Sums.sha256(m.dir().resolve(ModelFiles.WEIGHTS)), "each version holds its own files");
            }
            assertEquals(Set.of(1, 2, 3), versions);
        }
        assertEquals(3, store.list().size());
    }

    @Test
    void aCrashedPublishIsNeverListedAndDoesNotBlockTheNext() throws IOException {
        ModelStore store = new ModelStore(tmp);
        Publication crashed = store.begin("tiny"); // never committed nor closed: the process "died"
        TinyModels.write(crashed.dir(), "tiny", TinyModels.switchConfig(), DType.F32, 1);
        assertTrue(crashed.dir().getFileName().toString().startsWith("."));
        assertEquals(List.of(), store.list());
        assertThrows(ModelStoreException.class, () -> store.resolve("tiny"));

        PublishedModel published = TinyModels.publish(store, "tiny", 2);
        assertEquals(1, published.version());
        assertEquals(List.of("tiny:1"), store.list().stream().map(ModelRef::toString).toList());
        assertTrue(Files.isDirectory(crashed.dir()), "the leftover is not ours to delete");
    }

    @Test
    void closingWithoutCommitRemovesTheTemporaryFolder() throws IOException {
        ModelStore store = new ModelStore(tmp);
        Path dir;
        try (Publication p = store.begin("tiny")) {
            dir = p.dir();
            TinyModels.write(dir, "tiny", TinyModels.switchConfig(), DType.F32, 1);
        }
        assertFalse(Files.exists(dir));
        assertEquals(List.of(), store.list());
    }

    @Test
    void commitRefusesAnIncompleteModel() throws IOException {
        ModelStore store = new ModelStore(tmp);
        try (Publication p = store.begin("tiny")) {
            TinyModels.write(p.dir(), "tiny", TinyModels.switchConfig(), DType.F32, 1);
            Files.delete(p.dir().resolve(ModelFiles.experts(1)));
            ModelStoreException e = assertThrows(ModelStoreException.class, p::commit);
            assertTrue(e.getMessage().contains("experts-1.safetensors: missing"), e.getMessage());
        }
        try (Publication p = store.begin("other")) {
            TinyModels.write(p.dir(), "tiny", TinyModels.switchConfig(), DType.F32, 1);
            ModelStoreException e = assertThrows(ModelStoreException.class, p::commit);
            assertTrue(e.getMessage().contains("name is 'tiny' but this publishes 'other'"), e.getMessage());
        }
        assertEquals(List.of(), store.list());
    }

    @Test
    void hashModelsPublishWithTheirTable() throws IOException {
        ModelStore store = new ModelStore(tmp);
        try (Publication p = store.begin("hashy")) {
            TinyModels.write(p.dir(), "hashy", TinyModels.hashConfig(), DType.BF16, 1);
            PublishedModel m = p.commit();
            try (OpenedModel opened = store.open(m.dir())) {
                assertEquals(32, opened.weights().ints(TensorNames.HASH_TABLE).length);
                assertEquals(List.of(0, 1), opened.manifest().sparseLayers());
                assertEquals(DType.BF16, opened.experts(0).info(TensorNames.expertW1(0, 2)).dtype());
                assertFalse(opened.weights().contains(TensorNames.LM_HEAD), "tied embeddings");
            }
        }
    }

    @Test
    void resolvesNamesVersionsAndPaths() throws IOException {
        ModelStore store = new ModelStore(tmp);
        TinyModels.publish(store, "tiny", 1);
        TinyModels.publish(store, "tiny", 2);
        assertEquals(tmp.resolve("tiny/2"), store.resolve("tiny"));
        assertEquals(tmp.resolve("tiny/1"), store.resolve("tiny:1"));
        assertEquals(tmp.resolve("tiny/1"), store.resolve(tmp.resolve("tiny/1").toString()));
        ModelStoreException noName = assertThrows(ModelStoreException.class, () -> store.resolve("huge"));
        assertTrue(noName.getMessage().contains("'huge'") && noName.getMessage().contains("models: tiny"),
                noName.getMessage());
        ModelStoreException noVersion = assertThrows(ModelStoreException.class, () -> store.resolve("tiny:7"));
        assertTrue(noVersion.getMessage().contains("no version '7'") && noVersion.getMessage().contains("versions: 1, 2"),
                noVersion.getMessage());
        assertThrows(ModelStoreException.class, () -> store.resolve(tmp.resolve("nowhere") + "/"));
        assertThrows(IllegalArgumentException.class, () -> store.resolve("bad name"));
    }

    @Test
    void openReadsTheWeightsBackAndRefusesAnAlteredModel() throws IOException {
        ModelStore store = new ModelStore(tmp);
        PublishedModel m = TinyModels.publish(store, "tiny", 1);
        float[] emb;
        try (OpenedModel opened = store.open("tiny")) {
            emb = opened.weights().floats(TensorNames.TOK_EMB);
            assertEquals(32 * 8, emb.length);
            assertEquals(TinyModels.switchConfig(), opened.config());
            assertEquals(8 * 16, opened.experts(1).floats(TensorNames.expertW2(1, 3)).length);
            assertThrows(IllegalArgumentException.class, () -> opened.experts(0));
            assertEquals(32, opened.reference().references().getFirst().logits().length);
        }
        flipLastByte(m.dir().resolve(ModelFiles.experts(1)));
        ModelStoreException e = assertThrows(ModelStoreException.class, () -> store.open(m.dir()));
        assertTrue(e.getMessage().contains("experts-1.safetensors: checksum mismatch"), e.getMessage());
    }

    // --- verify: each kind of damage is found and names the file ---

    @Test
    void verifyFindsAFlippedByte() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        flipLastByte(dir.resolve(ModelFiles.WEIGHTS));
        assertProblems(dir, "model.safetensors: checksum mismatch");
    }

    @Test
    void verifyFindsATruncatedSafetensorsFile() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        Path weights = dir.resolve(ModelFiles.WEIGHTS);
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(bytes, bytes.length - 100));
        assertProblems(dir, "model.safetensors: checksum mismatch", "model.safetensors: tensor", "data is truncated");
        // Even with a matching checksum, the format check alone refuses it.
        rehash(dir);
        assertProblems(dir, "model.safetensors: tensor", "data is truncated");
    }

    @Test
    void verifyFindsAHeaderThatLiesAboutSizes() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        editHeader(dir.resolve(ModelFiles.WEIGHTS), "\"shape\":[32,8]", "\"shape\":[32,9]");
        rehash(dir);
        assertProblems(dir, "model.safetensors: tensor '", "header lies about sizes");
    }

    @Test
    void verifyFindsAnUnknownDtype() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        editHeader(dir.resolve(ModelFiles.experts(1)), "\"F32\"", "\"F64\"");
        rehash(dir);
        assertProblems(dir, "experts-1.safetensors: tensor 'blocks.1.experts.", "unknown dtype 'F64'");
    }

    @Test
    void verifyFindsMissingUnlistedAndUnexpectedFiles() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        Files.delete(dir.resolve(ModelFiles.experts(1)));
        Files.writeString(dir.resolve("notes.txt"), "hello");
        VerificationReport report = new ModelStore(tmp).verify(dir);
        String text = report.describe();
        assertTrue(text.contains("experts-1.safetensors: listed in SHA256SUMS but missing"), text);
        assertTrue(text.contains("experts-1.safetensors: missing: block 1 is sparse"), text);
        assertTrue(text.contains("notes.txt: present but not listed in SHA256SUMS"), text);
        assertEquals(3, report.problems().size(), text);

        Files.delete(dir.resolve(ModelFiles.CHECKSUMS));
        assertProblems(dir, "SHA256SUMS: missing");
    }

    @Test
    void verifyChecksTensorNamesAndShapesAgainstTheArchitecture() throws IOException {
        ModelStore store = new ModelStore(tmp);
        Path dir = TinyModels.publish(store, "tiny", 1).dir();
        // A dense model's weights in place of this Switch model's: the router is missing, a dense FFN is extra.
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        var dense = new dev.switchback.store.model.ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5,
                new dev.switchback.store.model.Architecture.Dense());
        TinyModels.write(other, "tiny", dense, DType.F32, 3);
        Files.copy(other.resolve(ModelFiles.WEIGHTS), dir.resolve(ModelFiles.WEIGHTS),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        rehash(dir);
        String text = store.verify(dir).describe();
        assertTrue(text.contains("model.safetensors: tensor 'blocks.1.router.weight' is missing"), text);
        assertTrue(text.contains("model.safetensors: tensor 'blocks.1.ffn.w1' is not part of this architecture"), text);
    }

    @Test
    void verifyReportsABadManifestByField() throws IOException {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        Path manifest = dir.resolve(ModelFiles.MANIFEST);
        Files.writeString(manifest, Files.readString(manifest).replace("\"heads\" : 2", "\"heads\" : 3"));
        rehash(dir);
        assertProblems(dir, "model.json: config.heads: dModel=8 is not divisible by heads=3");
    }

    @Test
    void checksumsFileIsAcceptedBySha256sum() throws Exception {
        Path dir = TinyModels.publish(new ModelStore(tmp), "tiny", 1).dir();
        String sums = Files.readString(dir.resolve(ModelFiles.CHECKSUMS));
        assertTrue(sums.lines().allMatch(l -> l.matches("[0-9a-f]{64}  [A-Za-z0-9._-]+")), sums);
        assertEquals(Set.of("model.json", "tokenizer.json", "model.safetensors", "experts-1.safetensors",
                "reference.json"), sums.lines().map(l -> l.substring(66)).collect(Collectors.toSet()));
        assumeTrue(commandExists("sha256sum"), "sha256sum is not installed");
        Process ok = new ProcessBuilder("sha256sum", "--quiet", "-c", ModelFiles.CHECKSUMS)
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(ok.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, ok.waitFor(), out);
        flipLastByte(dir.resolve(ModelFiles.REFERENCE));
        Process bad = new ProcessBuilder("sha256sum", "--quiet", "-c", ModelFiles.CHECKSUMS)
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String badOut = new String(bad.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, bad.waitFor());
        assertTrue(badOut.contains("reference.json: FAILED"), badOut);
    }

    private void assertProblems(Path dir, String... fragments) {
        VerificationReport report = new ModelStore(tmp).verify(dir);
        assertFalse(report.ok());
        String text = report.describe();
        for (String f : fragments) {
            assertTrue(text.contains(f), "expected '" + f + "' in:\n" + text);
        }
    }

    private static void flipLastByte(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 1] ^= 0x01;
        Files.write(file, bytes);
    }

    /** Replaces text in a safetensors header without changing its length, so only the lie is wrong. */
    private static void editHeader(Path file, String from, String to) throws IOException {
        assertEquals(from.length(), to.length());
        byte[] bytes = Files.readAllBytes(file);
        String asLatin1 = new String(bytes, StandardCharsets.ISO_8859_1);
        assertTrue(asLatin1.contains(from), from);
        Files.write(file, asLatin1.replaceFirst(java.util.regex.Pattern.quote(from), to).getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Rewrites SHA256SUMS to match the files as they are now, so that only the format checks can object. */
    private static void rehash(Path dir) throws IOException {
        Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                if (!name.equals(ModelFiles.CHECKSUMS)) {
                    sums.put(name, Sha256Sums.sha256(p));
                }
            }
        }
        Sha256Sums.write(dir.resolve(ModelFiles.CHECKSUMS), sums);
    }

    private static Map<String, byte[]> contents(Path dir) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                out.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return out;
    }

    private static boolean commandExists(String command) {
        try {
            return new ProcessBuilder(command, "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
