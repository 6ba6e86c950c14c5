package dev.switchback.cli;

import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import dev.switchback.store.Provenance;
import dev.switchback.store.VerificationReport;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.store.safetensors.TensorInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code switchback models list|inspect|verify}: what is in a model store, and whether it is intact. */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description = "List, inspect and verify the models in a store.",
        subcommands = {ModelsCommand.ListModels.class, ModelsCommand.Inspect.class, ModelsCommand.Verify.class})
public final class ModelsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing sub-command: list, inspect or verify");
    }

    /** The {@code --store} option every sub-command takes. */
    static final class StoreOption {
        @Spec(Spec.Target.MIXEE)
        CommandSpec spec;

        @Option(names = "--store", paramLabel = "DIR",
                description = "Model store folder (default: $SWITCHBACK_STORE, or ./store, or the bundled store when ./store is empty).")
        Path dir;

        ModelStore store() throws IOException {
            return Defaults.readStore(dir, spec.commandLine().getErr());
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List every published model version.")
    static final class ListModels implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        StoreOption store;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            ModelStore models = store.store();
            List<ModelRef> refs = models.list();
            if (refs.isEmpty()) {
                out.println("no models in " + models.root());
                return 0;
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"MODEL", "ARCHITECTURE", "PARAMS", "ACTIVE", "DTYPE", "PATH"});
            for (ModelRef ref : refs) {
                try {
                    ModelManifest m = ModelManifest.read(ref.dir().resolve(ModelFiles.MANIFEST));
                    ModelConfig c = m.config();
                    rows.add(new String[] {ref.toString(), c.architecture().kind(), human(c.totalParameters()),
                        human(c.activeNonEmbeddingParameters()), m.dtype(), ref.dir().toString()});
                } catch (IOException | IllegalArgumentException e) {
                    rows.add(new String[] {ref.toString(), "?", "?", "?", "?", ref.dir() + "  (unreadable model.json)"});
                }
            }
            printTable(out, rows);
            out.flush();
            return 0;
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Show a model's manifest, sizes, files and tensors.")
    static final class Inspect implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        StoreOption store;

        @Parameters(paramLabel = "MODEL", description = "name (latest version), name:version, or a folder path containing '/'.")
        String model;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            Path dir = store.store().resolve(model);
            ModelManifest m = ModelManifest.read(dir.resolve(ModelFiles.MANIFEST));
            ModelConfig c = m.config();
            out.println(m.name() + "  " + dir);
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("format", "v" + m.formatVersion());
            fields.put("architecture", c.architecture().toString());
            fields.put("sizes", "vocab " + c.vocabSize() + ", dModel " + c.dModel() + ", layers " + c.layers() + ", heads "
                    + c.heads() + ", dFf " + c.dFf() + ", context " + c.contextLength() + ", embeddings "
                    + (c.tiedEmbeddings() ? "tied" : "untied"));
            fields.put("sparse layers", m.sparseLayers().isEmpty() ? "none" : m.sparseLayers().toString());
            fields.put("parameters", "total " + human(c.totalParameters()) + ", non-embedding "
                    + human(c.nonEmbeddingParameters()) + ", active non-embedding " + human(c.activeNonEmbeddingParameters()));
            fields.put("dtype", m.dtype());
            fields.put("tokenizer", m.tokenizer());
            fields.put("chat template", m.chatTemplate() == null ? "none" : "yes");
            fields.put("provenance", provenance(m.provenance()));
            if (!m.extra().isEmpty()) {
                fields.put("extra", m.extra().toString());
            }
            fields.forEach((k, v) -> out.printf("  %-14s %s%n", k, v));

            out.println("files:");
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                out.printf("  %-28s %10s%n", f.getFileName(), bytes(Files.size(f)));
            }
            out.println("tensors:");
            for (Path f : files) {
                if (!f.getFileName().toString().endsWith(".safetensors")) {
                    continue;
                }
                out.println("  " + f.getFileName());
                try (SafetensorsFile st = SafetensorsFile.open(f)) {
                    for (String name : st.names()) {
                        TensorInfo t = st.info(name);
                        out.printf("    %-36s %-5s %s%n", name, t.dtype(), Arrays.toString(t.shape()));
                    }
                } catch (IOException e) {
                    out.println("    unreadable: " + e.getMessage());
                }
            }
            out.flush();
            return 0;
        }

        private static String provenance(Provenance p) {
            List<String> parts = new ArrayList<>();
            add(parts, "corpus", p.corpus());
            parts.add("steps " + p.steps());
            parts.add("tokens " + human(p.tokensSeen()));
            if (p.evalLoss() != null) {
                parts.add(String.format(Locale.ROOT, "eval loss %.4f", p.evalLoss()));
            }
            if (p.evalPerplexity() != null) {
                parts.add(String.format(Locale.ROOT, "perplexity %.2f", p.evalPerplexity()));
            }
            add(parts, "commit", p.gitCommit());
            add(parts, "teacher", p.teacher());
            add(parts, "created", p.createdAt());
            add(parts, "command", p.command());
            return String.join(", ", parts);
        }

        private static void add(List<String> parts, String label, String value) {
            if (value != null) {
                parts.add(label + " " + value);
            }
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check checksums and file formats; exit 1 naming each damaged file.")
    static final class Verify implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        StoreOption store;

        @Parameters(paramLabel = "MODEL", arity = "0..*",
                description = "name, name:version or folder path; all models in the store when none is given.")
        List<String> models = List.of();

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            ModelStore s = store.store();
            List<Path> dirs = new ArrayList<>();
            if (models.isEmpty()) {
                s.list().forEach(ref -> dirs.add(ref.dir()));
                if (dirs.isEmpty()) {
                    out.println("no models in " + s.root());
                }
            } else {
                for (String model : models) {
                    dirs.add(s.resolve(model));
                }
            }
            int exit = 0;
            for (Path dir : dirs) {
                VerificationReport report = s.verify(dir);
                if (report.ok()) {
                    out.println("OK      " + dir);
                } else {
                    exit = 1;
                    out.println("FAILED  " + dir + " (" + report.problems().size() + " problem"
                            + (report.problems().size() == 1 ? "" : "s") + ")");
                    report.problems().forEach(p -> out.println("  " + p));
                }
            }
            out.flush();
            return exit;
        }
    }

    /** 1234567 → "1.23M"; exact below a thousand. */
    static String human(long n) {
        if (n < 1000) {
            return Long.toString(n);
        }
        String[] units = {"K", "M", "B", "T"};
        double v = n;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f%s" : v >= 10 ? "%.1f%s" : "%.2f%s", v, units[u]);
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static void printTable(PrintWriter out, List<String[]> rows) {
        int[] widths = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                sb.append(i == row.length - 1 ? row[i] : String.format("%-" + (widths[i] + 2) + "s", row[i]));
            }
            out.println(sb);
        }
    }
}
