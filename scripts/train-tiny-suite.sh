#!/usr/bin/env bash
# Trains the six tiny configurations on the KJV corpus, one after another, and prints the docs/training.md table.
# Usage: scripts/train-tiny-suite.sh [STEPS]   train all six (default: each config's own step count, 300), then print
#        scripts/train-tiny-suite.sh --table   only print the table from runs/*/result.json
# Model FLOPs per token follow PaLM (appendix B): 6·(N_active·passes + V·d) + 12·L·passes·d·T, as in
# TrainingRun.trainingFlopsPerToken; MFU = FLOPs/token × tokens/s ÷ the peak 2048³ matmul rate measured in the run.
set -euo pipefail
cd "$(dirname "$0")/.."
configs="dense-tiny switch-tiny top2-tiny hash-tiny ladder-tiny hash-ladder-tiny"
if [[ "${1:-}" != "--table" ]]; then
  for c in $configs; do
    ./switchback train --config "trainer/configs/$c.json" ${1:+--steps "$1"}
  done
fi
CONFIGS="$configs" python3 - <<'PY'
import json, os
print("| config | architecture | params total | active non-emb | FLOPs/token (train) | val loss | val ppl | tokens/s | wall s | MFU |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in os.environ["CONFIGS"].split():
    r = json.load(open(f"runs/{c}/result.json"))
    cfg = json.load(open(f"runs/{c}/config.json"))
    m, t = cfg["model"], cfg["training"]
    a = m["architecture"]
    passes = a.get("passes", 1)
    flops = 6 * (r["active_non_embedding_parameters"] * passes + m["vocabSize"] * m["dModel"]) \
        + 12 * m["layers"] * passes * m["dModel"] * t["seqLen"]
    mfu = flops * r["tokens_per_s"] / r["peak_matmul_flops"]
    print(f"| {c} | {r['architecture']} | {r['total_parameters']:,} | {r['active_non_embedding_parameters']:,} | "
          f"{flops/1e6:.2f} M | {r['val_loss']:.4f} | {r['val_ppl']:.2f} | {r['tokens_per_s']:.0f} | {r['wall_s']:.0f} | "
          f"{100*mfu:.1f}% of {r['peak_matmul_flops']/1e9:.0f} GFLOP/s |")
PY
