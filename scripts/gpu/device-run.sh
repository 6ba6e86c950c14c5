#!/usr/bin/env bash
# Runs on a GPU host without a JDK: unpacks the jlink runtime and jars carried in .gpu/ (see docs/gpu.md for how
# they are made), then runs what is asked: `tests` (the gpu-tagged JUnit tests), `sanitize` (one test under
# compute-sanitizer memcheck; SANITIZE_METHOD picks another), `bench` (bench gpu --large, writing the model for the peer), `peer` (PyTorch peer),
# `cli` (any switchback command, from CLI_ARGS: the host's CPU benchmarks, e.g. `bench moe`, `bench server`).
# Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/sb
# The runtime is packed with xz; Python unpacks it where the host has no xz.
[[ -x /tmp/sb/jre-gpu/bin/java ]] || tar -C /tmp/sb -xJf .gpu/jre.tar.xz 2>/dev/null \
  || python3 -c "import tarfile; tarfile.open('.gpu/jre.tar.xz').extractall('/tmp/sb')"
JAVA=/tmp/sb/jre-gpu/bin/java
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g"
# CP_FIRST: jars put ahead of the bundle's (e.g. another build of one module, for an A/B run).
CP=${CP_FIRST:+$CP_FIRST:}$(ls .gpu/lib/*.jar | tr '\n' ':')
export SWITCHBACK_CACHE=/tmp/sb/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for what in "$@"; do
  case "$what" in
    tests)
      $JAVA $FLAGS -Dswitchback.child.classpath="$CP" -jar .gpu/junit-platform-console-standalone-1.12.2.jar execute -cp "$CP.gpu/kernels-tests.jar:.gpu/clients-tests.jar" \
        --include-tag gpu --select-class dev.switchback.kernels.engine.CudaEngineTest --select-class dev.switchback.kernels.cuda.NcclTest \
        $([[ -f .gpu/lib/grpc-netty-shaded-1.76.0.jar ]] && echo --select-class dev.switchback.cli.NcclGroupTest --select-class dev.switchback.cli.ShardAcrossProcessesTest) \
        --select-class dev.switchback.kernels.engine.ShardedCudaEngineTest --select-class dev.switchback.cli.ShardedServingTest \
        $([[ -f .gpu/lib/grpc-netty-shaded-1.76.0.jar ]] && echo --select-class dev.switchback.cli.ServeCudaIntegrationTest) --details=tree \
        --disable-banner 2>&1 | tee "$OUT/tests.txt" | tail -60
      # A killed shard worker leaves its group's memory on GPU 0 held until the process ends: a JVM of its own, last.
      [[ -f .gpu/lib/grpc-netty-shaded-1.76.0.jar ]] && timeout 300 $JAVA $FLAGS -Dswitchback.child.classpath="$CP" \
        -jar .gpu/junit-platform-console-standalone-1.12.2.jar execute -cp "$CP.gpu/kernels-tests.jar:.gpu/clients-tests.jar" \
        --include-tag gpu --select-class dev.switchback.cli.DeadShardWorkerTest --details=tree --disable-banner 2>&1 \
        | tee "$OUT/tests-dead-worker.txt" | tail -20 ;;
    sanitize)
      timeout 300 compute-sanitizer --tool memcheck --leak-check no --print-limit 20 $JAVA $FLAGS \
        -jar .gpu/junit-platform-console-standalone-1.12.2.jar execute -cp "$CP.gpu/kernels-tests.jar" \
        --include-tag gpu --select-method "${SANITIZE_METHOD:-dev.switchback.kernels.engine.CudaEngineTest#greedyDecodingThroughGraphsEqualsTheCpuEngine}" \
        --details=summary --disable-banner > "$OUT/sanitize.txt" 2>&1; echo "sanitizer exit $?"; grep -E "ERROR SUMMARY|tests (successful|failed)" "$OUT/sanitize.txt" ;;
    bench)
      # JAVA_OPTS=-Xmx110g for --experts 64 (2.2 billion parameters); NO_PEER_MODEL=1 skips writing the peer's copy.
      $JAVA $FLAGS ${JAVA_OPTS:-} -cp "$CP" dev.switchback.cli.GpuBench --large $([[ -z "${NO_PEER_MODEL:-}" ]] && echo --write-model /tmp/sb/model) \
        ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench${BENCH_TAG:-}.txt" ;;
    profile)
      # Per-kernel device time of about two decode steps at PROFILE_BATCH (no graphs), after the prefill and warm-up.
      timeout 300 ncu --metrics gpu__time_duration.sum --print-summary per-kernel --launch-skip ${PROFILE_SKIP:-1500} \
        --launch-count ${PROFILE_COUNT:-170} $JAVA $FLAGS -cp "$CP" dev.switchback.cli.GpuBench --large --batch ${PROFILE_BATCH:-1} \
        --steps 8 --warmup 8 --no-graphs ${PROFILE_ARGS:-} > "$OUT/profile${BENCH_TAG:-}.txt" 2>&1; echo "ncu exit $?"
      grep -E "^  [a-z_]+|gpu__time_duration.sum|\(linear|attention|route|rmsnorm|embed|rotary|sample" "$OUT/profile${BENCH_TAG:-}.txt" | head -80 ;;
    peer)
      PYTHONUNBUFFERED=1 python3 scripts/gpu/torch_peer.py --model /tmp/sb/model ${PEER_ARGS:-} 2>&1 | tee "$OUT/peer.txt" ;;
    cli)
      # The launcher's flags (switchback.home = this checkout, so the bundled model and tokenizer are found).
      { lscpu | grep -E "^(Model name|CPU\(s\)|Thread|Core|Socket|L3|NUMA node\(s\))"; nproc; } > "$OUT/cpu.txt"
      $JAVA $FLAGS ${JAVA_OPTS:-} -Dswitchback.home="$PWD" -cp "$CP" dev.switchback.cli.Main ${CLI_ARGS:?set CLI_ARGS} 2>&1 \
        | grep -v "^WARNING" | tee "$OUT/cli${BENCH_TAG:-}.txt" ;;
    *) echo "unknown step $what"; exit 2 ;;
  esac
done
