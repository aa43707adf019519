#!/usr/bin/env bash
# On the GPU machine (carry .device from ../shared/tools/device-bundle): the GEMM/accel GPU tests, then
# GemmBench and its torch.matmul peer, in one run. Logs under $OUT; the combined table prints last.
# Usage: bash bench/gemm-device.sh [quick]
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=${D:-.device}   # the bundle folder (the device tool carries e.g. .dev-NAME)
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout ${T_TESTS:-80} $J -jar $D/junit-platform-console-standalone-*.jar execute -cp "$CP" \
  --select-class dev.arbor.accel.GpuConformanceTest --select-class dev.arbor.kernels.gemm.GemmGpuTest \
  --select-class dev.arbor.kernels.gemm.GemmInvarianceGpuTest \
  --include-tag gpu --details=tree > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (successful|failed)|MethodSource|✘" "$OUT/gpu-tests.log" | grep -v "✔" | head -20
grep -A3 "✘" "$OUT/gpu-tests.log" | head -40
timeout ${T_BENCH:-100} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench ${1:-} > "$OUT/gemm-arbor.txt" 2>&1
echo "bench exit $?"; grep -E "^variant|wgmma tiles|FAILED|Exception|Error" "$OUT/gemm-arbor.txt" | head -30
PYTHONUNBUFFERED=1 timeout ${T_PEER:-70} python3 ${PEER:-bench/peers/gemm_torch.py} "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"; grep -v "^PEER" "$OUT/gemm-table.txt"
