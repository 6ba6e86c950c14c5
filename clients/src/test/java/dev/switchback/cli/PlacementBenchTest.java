package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@code bench placement} on the bundled Switch model and the shared corpus. */
class PlacementBenchTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path STORE = ROOT.resolve(Defaults.BUNDLED_STORE);
    private static final Path CORPUS = ROOT.resolve("../shared/corpus/kjv.txt.gz").normalize();

    @Test
    void everyStrategyGetsARowPerSparseLayerAndLoadBalancesThePlannedTokens() {
        Assumptions.assumeTrue(Files.isRegularFile(CORPUS), "the shared corpus is beside the checkout");
        CliRun run = CliRun.of("bench", "placement", "--model", "switch-kjv", "--store", STORE.toString(), "--corpus",
                CORPUS.toString(), "--tokens", "2048", "--devices", "2,4");
        assertEquals(0, run.exitCode(), run.err());
        // | layer | devices | strategy | experts per device | planned | served |
        Map<String, Double> planned = new TreeMap<>();
        int rows = 0;
        for (String line : run.out().lines().filter(l -> l.matches("\\| \\d+ \\| \\d+ \\|.*")).toList()) {
            List<String> cells = List.of(line.substring(1, line.length() - 1).split("\\|")).stream().map(String::strip).toList();
            planned.put(cells.get(0) + "/" + cells.get(1) + "/" + cells.get(2), Double.parseDouble(cells.get(4)));
            assertTrue(Double.parseDouble(cells.get(5)) >= 1.0, "max/mean is at least 1: " + line);
            rows++;
        }
        // switch-kjv: Switch layers at 1 and 3; a learned router has no table, so no static-balanced rows.
        assertEquals(2 * 2 * 2, rows, run.out());
        for (String layerDevices : List.of("1/2", "1/4", "3/2", "3/4")) {
            double roundRobin = planned.get(layerDevices + "/round-robin");
            double load = planned.get(layerDevices + "/load");
            assertTrue(load <= roundRobin + 1e-9, layerDevices + ": load " + load + " vs round-robin " + roundRobin);
        }
        assertTrue(run.err().contains("routing 2,048 training and 2,048 validation tokens"), run.err());
    }

    @Test
    void badCountsAreOneLineErrors() {
        CliRun devices = CliRun.of("bench", "placement", "--model", "switch-kjv", "--store", STORE.toString(), "--devices", "2,0");
        assertEquals(2, devices.exitCode());
        assertEquals("error: --devices: each count must be >= 1, got 0", devices.err().strip());
        CliRun tokens = CliRun.of("bench", "placement", "--model", "switch-kjv", "--store", STORE.toString(), "--tokens", "0");
        assertEquals("error: --tokens must be >= 1, got 0", tokens.err().strip());
        CliRun corpus = CliRun.of("bench", "placement", "--model", "switch-kjv", "--store", STORE.toString(), "--corpus", "nope.txt");
        assertEquals("error: --corpus: file does not exist: nope.txt", corpus.err().strip());
    }
}
