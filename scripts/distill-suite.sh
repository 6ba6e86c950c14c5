#!/usr/bin/env bash
# Trains a Switch, a Hash and a Ladder teacher on the KJV corpus, distils each into a dense student, and prints the
# docs/distillation.md table (percent of the teacher's gain kept over a dense model trained from scratch).
# Usage: scripts/distill-suite.sh [all|teachers|distill|ablations|table] [STEPS]     (default: all 1000)
#   teachers   train switch-tiny, hash-tiny and ladder-tiny for STEPS steps as <config>-<STEPS> (skipped when done)
#   distill    hash and switch -> dense-tiny (4 blocks), ladder (2 blocks x 2 passes) -> dense-2l-tiny (the same
#              2 blocks, one pass); the first dense-tiny run trains the dense baseline, the second reuses it
#   ablations  the hash teacher's student again with the teacher's weights but alpha 0 (initialisation only), and
#              with the baseline's random initialisation and alpha 0.25 (the teacher's probabilities only)
#   table      print the table from runs/*/report.json
# Runs one training at a time; everything goes to ./store and ./runs.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-all}"
steps="${2:-1000}"
teachers="hash-tiny ladder-tiny switch-tiny"
sb="${SWITCHBACK:-./switchback}"   # the CLI (override to run a copy while rebuilding)

student_of() { case "$1" in ladder-tiny) echo dense-2l-tiny ;; *) echo dense-tiny ;; esac; }

# The dense baseline an earlier student of config $1 trained (as --baseline NAME:VERSION), if any.
baseline_of() {
  for r in runs/"$1"-from-*-"$steps"/report.json; do
    if [[ -f "$r" ]]; then
      echo "--baseline $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["baseline"]["model"])' "$r")"
      return
    fi
  done
}

distill() {  # NAME TEACHER STUDENT-CONFIG [more options]
  local name="$1" teacher="$2" student="$3"
  shift 3
  if [[ -f "runs/$name/report.json" ]]; then echo "student $name already distilled (runs/$name)"; return; fi
  # shellcheck disable=SC2046
  "$sb" distill --teacher "$teacher-$steps" --student-config "trainer/configs/$student.json" --steps "$steps" \
    --temperature 1 --ffn-init mean --name "$name" $(baseline_of "$student") "$@"
}

if [[ "$phase" == all || "$phase" == teachers ]]; then
  for t in $teachers; do
    if [[ -f "runs/$t-$steps/result.json" ]]; then echo "teacher $t-$steps already trained (runs/$t-$steps)"; continue; fi
    "$sb" train --config "trainer/configs/$t.json" --steps "$steps" --name "$t-$steps"
  done
fi

if [[ "$phase" == all || "$phase" == distill ]]; then
  for t in $teachers; do
    s="$(student_of "$t")"
    distill "$s-from-$t-$steps" "$t" "$s" --alpha 0.25
  done
fi

if [[ "$phase" == all || "$phase" == ablations ]]; then
  distill "dense-tiny-from-hash-tiny-$steps-init-only" hash-tiny dense-tiny --alpha 0
  distill "dense-tiny-from-hash-tiny-$steps-probs-only" hash-tiny dense-tiny --alpha 0.25 --init random
fi

STEPS="$steps" python3 - <<'PY'
import json, os
steps = os.environ["STEPS"]
runs = [f"dense-tiny-from-hash-tiny-{steps}", f"dense-tiny-from-hash-tiny-{steps}-init-only",
        f"dense-tiny-from-hash-tiny-{steps}-probs-only", f"dense-tiny-from-switch-tiny-{steps}",
        f"dense-2l-tiny-from-ladder-tiny-{steps}"]
print("| student | teacher | init | α | teacher ppl | dense from scratch ppl | student ppl at init | student ppl | % of gain kept | student tokens/s |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in runs:
    path = f"runs/{name}/report.json"
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    start = r["init"].get("from", "teacher")  # reports written before --init existed started from the teacher
    init = start + (f" (FFN: {r['ffn_init']})" if start == "teacher" and r["init"]["from_experts"] else "")
    kept = f"{r['percent_kept']:.1f}%" if "percent_kept" in r else "none: teacher not better"
    print(f"| {r['student']['model']} | {r['teacher']['model']} ({r['teacher']['architecture']}) | {init} | {r['alpha']:g} | "
          f"{r['teacher']['val_ppl']:.2f} | {r['baseline']['val_ppl']:.2f} ({r['baseline']['model']}) | "
          f"{r['student']['init_val_ppl']:.2f} | {r['student']['val_ppl']:.2f} | {kept} | {r['student']['tokens_per_s']:.0f} |")
PY
