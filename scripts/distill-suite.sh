#!/usr/bin/env bash
# Trains a Switch, a Hash and a Ladder teacher on the KJV corpus, distils each into a dense student, and prints the
# docs/distillation.md table (percent of the teacher's gain kept over a dense model trained from scratch).
# Usage: scripts/distill-suite.sh [all|teachers|distill|ablations|matched|table] [STEPS] [TEACHER_STEPS]
#   (default: all 1000 1000; TEACHER_STEPS defaults to STEPS)
#   teachers   train switch-tiny, hash-tiny and ladder-tiny for TEACHER_STEPS steps as <config>-<TEACHER_STEPS>
#              (skipped when done)
#   distill    distil for STEPS steps: hash and switch -> dense-tiny (4 blocks), ladder (2 blocks x 2 passes) ->
#              dense-2l-tiny (the same 2 blocks, one pass); the first dense-tiny run trains the dense baseline
#              (STEPS steps from scratch), the second reuses it
#   ablations  the hash teacher's student again with the teacher's weights but alpha 0 (initialisation only), and
#              with the baseline's random initialisation and alpha 0.25 (the teacher's probabilities only)
#   matched    train dense-tiny and dense-2l-tiny from scratch for TEACHER_STEPS + STEPS steps, as many as the
#              student's copied weights have seen (in its teacher, then in distillation), and evaluate them
#   table      print the table from runs/*/report.json (and the matched baselines' evaluations)
# Students are named <student>-from-<teacher>-<TEACHER_STEPS>, with -then-<STEPS> when STEPS differs.
# Runs one training at a time; everything goes to ./store and ./runs.
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-all}"
steps="${2:-1000}"
tsteps="${3:-$steps}"
teachers="hash-tiny ladder-tiny switch-tiny"
sb="${SWITCHBACK:-./switchback}"   # the CLI (override to run a copy while rebuilding)
corpus=../shared/corpus/kjv.txt.gz
series="$tsteps"
if [[ "$steps" != "$tsteps" ]]; then series="$tsteps-then-$steps"; fi
matched_steps=$((tsteps + steps))

student_of() { case "$1" in ladder-tiny) echo dense-2l-tiny ;; *) echo dense-tiny ;; esac; }

# The dense baseline an earlier student of config $1 in this series trained (as --baseline NAME:VERSION), if any.
baseline_of() {
  for r in runs/"$1"-from-*-"$series"/report.json; do
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
  "$sb" distill --teacher "$teacher-$tsteps" --student-config "trainer/configs/$student.json" --steps "$steps" \
    --temperature 1 --ffn-init mean --name "$name" $(baseline_of "$student") "$@"
}

if [[ "$phase" == all || "$phase" == teachers ]]; then
  for t in $teachers; do
    if [[ -f "runs/$t-$tsteps/result.json" ]]; then echo "teacher $t-$tsteps already trained (runs/$t-$tsteps)"; continue; fi
    "$sb" train --config "trainer/configs/$t.json" --steps "$tsteps" --name "$t-$tsteps"
  done
fi

if [[ "$phase" == all || "$phase" == distill ]]; then
  for t in $teachers; do
    s="$(student_of "$t")"
    distill "$s-from-$t-$series" "$t" "$s" --alpha 0.25
  done
fi

if [[ "$phase" == all || "$phase" == ablations ]]; then
  distill "dense-tiny-from-hash-tiny-$series-init-only" hash-tiny dense-tiny --alpha 0
  distill "dense-tiny-from-hash-tiny-$series-probs-only" hash-tiny dense-tiny --alpha 0.25 --init random
fi

if [[ "$phase" == all || "$phase" == matched ]]; then
  for s in dense-tiny dense-2l-tiny; do
    name="$s-$matched_steps"
    if [[ ! -f "runs/$name/result.json" ]]; then
      "$sb" train --config "trainer/configs/$s.json" --steps "$matched_steps" --name "$name"
    fi
    # The same evaluation distill uses (Evaluation on the fixed validation split, windows of 128).
    if [[ ! -f "runs/$name/eval.txt" ]]; then
      "$sb" eval --model "$name" --corpus "$corpus" | grep val_ppl > "runs/$name/eval.txt"
    fi
  done
fi

SERIES="$series" MATCHED="$matched_steps" python3 - <<'PY'
import json, os, re
series, matched = os.environ["SERIES"], os.environ["MATCHED"]
runs = [f"dense-tiny-from-hash-tiny-{series}", f"dense-tiny-from-hash-tiny-{series}-init-only",
        f"dense-tiny-from-hash-tiny-{series}-probs-only", f"dense-tiny-from-switch-tiny-{series}",
        f"dense-2l-tiny-from-ladder-tiny-{series}"]

def matched_ppl(config):
    path = f"runs/{config}-{matched}/eval.txt"
    if not os.path.exists(path):
        return None
    return float(re.search(r"val_ppl ([0-9.]+)", open(path).read()).group(1))

print(f"| student | teacher | init | α | teacher ppl | dense from scratch ppl | student ppl at init | student ppl "
      f"| % of gain kept | dense ppl after {matched} steps | student tokens/s |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in runs:
    path = f"runs/{name}/report.json"
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    start = r["init"].get("from", "teacher")  # reports written before --init existed started from the teacher
    init = start + (f" (FFN: {r['ffn_init']})" if start == "teacher" and r["init"]["from_experts"] else "")
    kept = f"{r['percent_kept']:.1f}%" if "percent_kept" in r else "none: teacher not better"
    config = r["student"]["config"].split("/")[-1].removesuffix(".json")
    m = matched_ppl(config)
    print(f"| {r['student']['model']} | {r['teacher']['model']} ({r['teacher']['architecture']}) | {init} | {r['alpha']:g} | "
          f"{r['teacher']['val_ppl']:.2f} | {r['baseline']['val_ppl']:.2f} ({r['baseline']['model']}, {r['baseline']['steps']} steps) | "
          f"{r['student']['init_val_ppl']:.2f} | {r['student']['val_ppl']:.2f} | {kept} | "
          f"{'–' if m is None else f'{m:.2f}'} | {r['student']['tokens_per_s']:.0f} |")
PY
