#!/usr/bin/env bash
# Trains a Switch, a Hash and a Ladder teacher on the KJV corpus, distils each into a dense student, and prints the
# docs/distillation.md table (percent of the teacher's gain kept over a dense model trained from scratch).
# Usage: scripts/distill-suite.sh [all|teachers|distill|table] [STEPS]     (default: all 1000)
#   teachers  train switch-tiny, hash-tiny and ladder-tiny for STEPS steps as <config>-<STEPS> (skipped when done)
#   distill   hash and switch -> dense-tiny (4 blocks), ladder (2 blocks x 2 passes) -> dense-2l-tiny (the same
#             2 blocks, one pass); the first dense-tiny run trains the dense baseline, the second reuses it
#   table     print the table from runs/*/report.json
# Runs one training at a time; everything goes to ./store and ./runs.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-all}"
steps="${2:-1000}"
teachers="hash-tiny ladder-tiny switch-tiny"
sb="${SWITCHBACK:-./switchback}"   # the CLI (override to run a copy while rebuilding)

student_of() { case "$1" in ladder-tiny) echo dense-2l-tiny ;; *) echo dense-tiny ;; esac; }

if [[ "$phase" == all || "$phase" == teachers ]]; then
  for t in $teachers; do
    if [[ -f "runs/$t-$steps/result.json" ]]; then echo "teacher $t-$steps already trained (runs/$t-$steps)"; continue; fi
    "$sb" train --config "trainer/configs/$t.json" --steps "$steps" --name "$t-$steps"
  done
fi

if [[ "$phase" == all || "$phase" == distill ]]; then
  for t in $teachers; do
    s="$(student_of "$t")"
    name="$s-from-$t-$steps"
    if [[ -f "runs/$name/report.json" ]]; then echo "student $name already distilled (runs/$name)"; continue; fi
    baseline=()
    # The dense-tiny baseline trained with the first student is reused by the second (same config, same steps).
    for r in runs/"$s"-from-*-"$steps"/report.json; do
      if [[ -f "$r" ]]; then
        baseline=(--baseline "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["baseline"]["model"])' "$r")")
        break
      fi
    done
    "$sb" distill --teacher "$t-$steps" --student-config "trainer/configs/$s.json" --steps "$steps" \
      --alpha 0.25 --temperature 1 --ffn-init mean --name "$name" "${baseline[@]}"
  done
fi

STEPS="$steps" TEACHERS="$teachers" python3 - <<'PY'
import json, os
steps = os.environ["STEPS"]
print("| teacher | student | steps | teacher ppl | dense from scratch ppl | student ppl at init | student ppl | % of gain kept | student tokens/s |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for t in os.environ["TEACHERS"].split():
    s = "dense-2l-tiny" if t == "ladder-tiny" else "dense-tiny"
    path = f"runs/{s}-from-{t}-{steps}/report.json"
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    kept = f"{r['percent_kept']:.1f}%" if "percent_kept" in r else "n/a: teacher not better"
    print(f"| {r['teacher']['model']} ({r['teacher']['architecture']}) | {s} | {r['steps']} | {r['teacher']['val_ppl']:.2f} | "
          f"{r['baseline']['val_ppl']:.2f} ({r['baseline']['model']}) | {r['student']['init_val_ppl']:.2f} | "
          f"{r['student']['val_ppl']:.2f} | {kept} | {r['student']['tokens_per_s']:.0f} |")
PY
