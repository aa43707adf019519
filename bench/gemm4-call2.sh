#!/usr/bin/env bash
# Run 27-gemm4 (call 2), from the root of a checkout carrying the bundle of bench/device/bundle.sh (no models) as .dev-gemm4
# with this script, bench/peers/gemm_torch.py and bench/device/final-run.sh copied in: the GEMM GPU tests (incl. the
# invariant plan's Hopper forms against its mma.sync slab plan, bit for bit), the seed workloads in the default
# (batch-invariant) mode, then GemmBench (invariant columns: before / now / both forms) and the torch.matmul peer.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm4
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout ${T_TESTS:-90} $J -cp "$CP" dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (found|successful|failed)|Tests|FAIL|✘" "$OUT/gpu-tests.log" | head; grep -E " [1-9][0-9]* of [0-9]+ elements differ" "$OUT/gpu-tests.log" | head -5
grep -c " 0 of " "$OUT/gpu-tests.log"
OUT_SAVE=$OUT; RUNS=${RUNS:-"workload2 workload1"} bash $D/final-run.sh $D; OUT=$OUT_SAVE
grep -hE "^auto |decode steps|other steps|rc=" /tmp/final-out/workload*.log | cut -c1-200
timeout ${T_BENCH:-150} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench > "$OUT/gemm-arbor.txt" 2>&1
echo "bench exit $?"; grep -E "^variant|FAILED|Exception|arbor gemm" "$OUT/gemm-arbor.txt" | head -20
PYTHONUNBUFFERED=1 timeout ${T_PEER:-90} python3 $D/gemm_torch.py "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"; grep -A200 "^invariant plan" "$OUT/gemm-table.txt" | grep -v "^INV" | cut -c1-160
# prefill 8 x 2048 tokens in the default (batch-invariant) mode: every projection at M = 16384 on the invariant plan
timeout ${T_PREFILL:-50} $J -cp "$CP" dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 2048 \
  --output-len 2 --max-num-batched-tokens 16384 --out "$OUT/pf" > "$OUT/prefill.log" 2>&1
echo "prefill exit $?"; grep -vE "^\s*$" "$OUT/prefill.log" | tail -8
cp /tmp/final-out/*.log "$OUT/" 2>/dev/null; true
