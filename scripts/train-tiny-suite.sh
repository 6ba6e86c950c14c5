#!/usr/bin/env bash
# Trains the six tiny configurations on the KJV corpus, one after another, and prints the docs/training.md table.
# Usage: scripts/train-tiny-suite.sh [STEPS]   (default: each config's own step count, 300)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-}
for c in dense-tiny switch-tiny top2-tiny hash-tiny ladder-tiny hash-ladder-tiny; do
  ./switchback train --config "trainer/configs/$c.json" ${steps:+--steps "$steps"}
done
python3 - <<'PY'
import json
rows = []
for c in ["dense-tiny", "switch-tiny", "top2-tiny", "hash-tiny", "ladder-tiny", "hash-ladder-tiny"]:
    r = json.load(open(f"runs/{c}/result.json"))
    rows.append(r)
print("| config | architecture | params total | active non-emb | train FLOPs/token | val ppl | tokens/s | wall s | MFU |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['name']} | {r['architecture']} | {r['total_parameters']:,} | {r['active_non_embedding_parameters']:,} | "
          f"{r['train_flops_per_token']/1e6:.1f} M | {r['val_ppl']:.2f} | {r['tokens_per_s']:.0f} | {r['wall_s']:.0f} | {100*r['mfu']:.1f}% |")
PY
