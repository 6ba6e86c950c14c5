package dev.switchback.kernels.placement;

import java.util.Arrays;
import java.util.stream.Collectors;

/** How a sparse layer's experts are spread over devices. */
public enum PlacementStrategy {
    /** Expert e on device e mod N: needs no data, balances expert counts, ignores token mass. */
    ROUND_ROBIN("round-robin"),
    /**
     * From measured per-expert token counts: the hottest experts get replicas (their tokens split between them),
     * then every replica goes to the device with the least token mass so far.
     */
    LOAD("load"),
    /**
     * For Hash Layers: the routing table is fixed and the corpus's token frequencies are known before serving, so
     * each expert's token mass is known exactly and the experts are partitioned to equalise it, without replicas.
     */
    STATIC_BALANCED("static-balanced");

    private final String flag;

    PlacementStrategy(String flag) {
        this.flag = flag;
    }

    /** The name used on the command line. */
    public String flag() {
        return flag;
    }

    /** The strategy named {@code name} (its flag), or an error listing the valid names. */
    public static PlacementStrategy parse(String name) {
        for (PlacementStrategy s : values()) {
            if (s.flag.equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("expert placement must be one of "
                + Arrays.stream(values()).map(PlacementStrategy::flag).collect(Collectors.joining(", ")) + "; got '" + name + "'");
    }
}
