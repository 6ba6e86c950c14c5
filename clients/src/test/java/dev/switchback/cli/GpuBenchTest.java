package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** bench gpu refuses bad placement lists in one line before it looks for a GPU (so also where there is none). */
class GpuBenchTest {
    @Test
    void badPlacementListsAreOneLine() {
        CliRun first = CliRun.of("bench", "gpu", "--large", "--gpus", "0,1", "--placements", "load,contiguous");
        assertEquals(2, first.exitCode());
        assertEquals("error: --placements: load plans on the tokens counted by the runs before it; list another first"
                + " (e.g. contiguous,load)", first.err().strip());
        CliRun unknown = CliRun.of("bench", "gpu", "--large", "--placements", "contiguous,diagonal");
        assertEquals("error: --placements: contiguous, round-robin or load, got 'diagonal'", unknown.err().strip());
    }

    /** --ab names one setting it knows how to flip, over at least two rounds, checked before any GPU is looked for. */
    @Test
    void badComparisonsAreOneLine() {
        CliRun what = CliRun.of("bench", "gpu", "--large", "--ab", "graphs");
        assertEquals(2, what.exitCode());
        assertEquals("error: --ab: expert-gemm or kv-cache-dtype, got 'graphs'", what.err().strip());
        CliRun rounds = CliRun.of("bench", "gpu", "--large", "--ab", "expert-gemm", "--ab-rounds", "1");
        assertEquals("error: --ab-rounds must be >= 2, got 1", rounds.err().strip());
    }
}
