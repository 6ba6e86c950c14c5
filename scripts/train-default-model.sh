#!/usr/bin/env bash
# Trains the bundled default model (trainer/configs/switch-kjv.json, BF16 weights) on the KJV corpus and puts it in
# the bundled store, model-store/default-store/switch-kjv/1, replacing the one there; then verifies its checksums.
# About 7 minutes on an idle 2-core machine (docs/training.md: on a busy one, one PyTorch thread is faster).
# Run it from a clean, committed work tree: model.json records the commit (with "-dirty" when the tree differs
# from it), the command, the corpus's SHA-256, the seed and the whole schedule.
# Usage: scripts/train-default-model.sh [--resume]   (build first: mvn -B -q -DskipTests package)
#   --resume continues an interrupted run from runs/switch-kjv's latest checkpoint, exactly where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
config=trainer/configs/switch-kjv.json
bundled=model-store/default-store
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
  echo "warning: the work tree has uncommitted changes; model.json will record the commit as <commit>-dirty" >&2
fi
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
./switchback train --config "$config" --dtype BF16 --store "$staging/store" ${1:+"$1"}
rm -rf "$bundled/switch-kjv"
mkdir -p "$bundled/switch-kjv"
mv "$staging/store/switch-kjv/1" "$bundled/switch-kjv/1"
./switchback models verify --store "$bundled"
du -sh "$bundled/switch-kjv/1"
