#!/usr/bin/env bash
# Run 30-gemm5 (one call), from the root of a checkout carrying the bundle of bench/device/bundle.sh (no models) as .dev-gemm5
# with this script and bench/peers/gemm_torch.py copied in: the GEMM and RoPE-gather GPU tests, the 8 x 2048 prefill
# (--no-batch-invariance, as final-run.sh's prefill-nbi; then with -Darbor.gemm.persistent=false -Darbor.gemm.raster=1), GemmBench raster (both plans in the grouped and the row-major
# raster at M = 256..8192 and the llama-7b prefill shapes at 16384), the torch.matmul peer on the same shapes, then the
# prefill step's op profile. Every log under $OUT.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm5
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
PF="throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
echo "== $(date -u +%T) gpu tests"
timeout ${T_TESTS:-60} $J -cp "$CP" dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm dev.arbor.kernels.layer.TokenKernelsGpuTest \
  dev.arbor.models.RopeAnglesGpuTest > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (found|successful|failed|aborted)|FAILED|✘" "$OUT/gpu-tests.log" | head -12
grep -cE " 0 of [0-9]+ elements differ" "$OUT/gpu-tests.log"; grep -E " [1-9][0-9]* of [0-9]+ elements differ" "$OUT/gpu-tests.log" | head -3
echo "== $(date -u +%T) prefill 8 x 2048 (nbi)"
timeout ${T_PREFILL:-40} $J -cp "$CP" dev.arbor.server.Main bench $PF --out "$OUT/pf" > "$OUT/prefill.log" 2>&1
echo "prefill exit $?"; grep -E "^prefill:|other steps|decode steps" "$OUT/prefill.log" | cut -c1-260
echo "== $(date -u +%T) prefill 8 x 2048 (nbi), the GEMM as before this run (a block a tile, row-major)"
timeout ${T_PREFILL:-40} $J -Darbor.gemm.persistent=false -Darbor.gemm.raster=1 -cp "$CP" dev.arbor.server.Main bench $PF --out "$OUT/pf-before" > "$OUT/prefill-before.log" 2>&1
echo "prefill (GEMM before) exit $?"; grep -E "^prefill:|other steps" "$OUT/prefill-before.log" | cut -c1-260
echo "== $(date -u +%T) GemmBench raster"
timeout ${T_BENCH:-75} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench raster > "$OUT/gemm-arbor.txt" 2>&1
echo "bench exit $?"; grep -E "^variant|FAILED|Exception|arbor gemm|cuMemcpy" "$OUT/gemm-arbor.txt" | cut -c1-200 | head -16
echo "== $(date -u +%T) torch peer"
PYTHONUNBUFFERED=1 timeout ${T_PEER:-45} python3 $D/gemm_torch.py "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"; head -2 "$OUT/gemm-table.txt" | cut -c1-200
echo "== $(date -u +%T) prefill op profile"
timeout ${T_PROFILE:-40} $J -Darbor.opProfile=true -cp "$CP" dev.arbor.server.Main bench $PF --out "$OUT/pf-prof" > "$OUT/prefill-profile.log" 2>&1
echo "profile exit $?"; grep -A30 -E "op profile, prefill|other steps" "$OUT/prefill-profile.log" | cut -c1-160 | head -40
echo "== $(date -u +%T) done"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> "$OUT/gpu-state.txt" 2>&1
