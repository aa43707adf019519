#!/usr/bin/env bash
# Run 35-midk6 (one call), from the root of a checkout carrying the bundle of `bench/device/bundle.sh --model tiny-llama3` as
# .dev-midk6 with this script, bench/peers/gemm_torch.py and bench/device/final-run.sh copied in: GemmBench balance (104/128
# tokens: the one-wave and balanced split rules, every split of TMA_128 and TMA_64X2), seed workload 1 --no-batch-invariance
# with the balanced rule (the default) and with -Darbor.gemm.split=wave, llama3.2-1b batch 128, the torch.matmul peer on the
# bench's points, the GPU tests (GEMM, sampling, engine), then the op profiles of both engine runs. Every log under $OUT.
# (GemmBench's "balance" mode is "splits-mid" since the balanced rule was dropped, ce9c542.)
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-midk6
tar xJf $D/jre.tar.xz -C /tmp && tar xJf $D/fixtures.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
echo "== $(date -u +%T) GemmBench balance"
timeout ${T_BENCH:-50} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench balance > "$OUT/gemm-arbor.txt" 2>&1
echo "bench exit $?"; grep -E "FAILED|Exception|arbor gemm|cuMemcpy" "$OUT/gemm-arbor.txt" | cut -c1-200 | head -8
grep -E "one-wave" "$OUT/gemm-arbor.txt" | cut -c1-170
mkdir -p "$OUT/bal" "$OUT/wave" "$OUT/1b" "$OUT/prof"
echo "== $(date -u +%T) workload1-nbi, balanced split (default)"
RUNS="workload1-nbi" OUT="$OUT/bal" timeout 35 bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "rc=|wall|decode|step" "$OUT/bal/run.log" 2>/dev/null | cut -c1-240 | head -8
echo "== $(date -u +%T) workload1-nbi, -Darbor.gemm.split=wave"
JAVA_TOOL_OPTIONS="-Darbor.gemm.split=wave" RUNS="workload1-nbi" OUT="$OUT/wave" timeout 35 bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "rc=|wall|decode|step" "$OUT/wave/run.log" 2>/dev/null | cut -c1-240 | head -8
echo "== $(date -u +%T) llama1b-b128-nbi"
RUNS="llama1b-b128-nbi" OUT="$OUT/1b" timeout 30 bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "rc=|tok/s|step|host" "$OUT/1b/run.log" 2>/dev/null | cut -c1-240 | head -8
echo "== $(date -u +%T) torch peer"
PYTHONUNBUFFERED=1 timeout ${T_PEER:-25} python3 $D/gemm_torch.py "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"
echo "== $(date -u +%T) gpu tests"
timeout ${T_TESTS:-55} $J -cp "$CP" dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.sampling.SamplingKernelsGpuTest dev.arbor.engine.EngineGpuTest > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (found|successful|failed|aborted)|FAILED|✘" "$OUT/gpu-tests.log" | head -12
echo "== $(date -u +%T) profiles"
RUNS="profile-1b-b128-nbi profile-w1-nbi" OUT="$OUT/prof" timeout ${T_PROF:-45} bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "^== |rc=" "$OUT/prof/run.log" 2>/dev/null | cut -c1-120 | head -8
echo "== $(date -u +%T) done"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> "$OUT/gpu-state.txt" 2>&1
