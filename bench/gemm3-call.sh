#!/usr/bin/env bash
# Run 22-gemm3 (call 1 also ran dev.arbor.accel.GpuConformanceTest; call 2 as here), from the root of a checkout carrying the bundle of bench/gemm-bundle.sh as .dev-gemm3
# (with this script, bench/peers/gemm_torch.py copied in): GPU tests (accel conformance incl. tmaTiles, GEMM incl. the TMA
# tiles, GEMM batch invariance), then GemmBench (default plan = TMA wgmma above 64 tokens, with the cp.async wgmma, the
# other TMA tile, invariant and mma.sync columns) and the torch.matmul peer on the same shapes. If any GPU test failed,
# the bench runs with -Darbor.gemm.tma=false (a hung TMA kernel must not take the whole call).
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm3
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout 90 $J -jar $D/junit-platform-console-standalone-*.jar execute -cp "$CP" \
  --select-class dev.arbor.kernels.gemm.GemmGpuTest \
  --select-class dev.arbor.kernels.gemm.GemmInvarianceGpuTest --include-tag gpu --details=tree > "$OUT/gpu-tests.log" 2>&1
rc=$?
echo "gpu tests exit $rc"; grep -E "tests (found|successful|failed)" "$OUT/gpu-tests.log"; grep -B2 -A6 "✘" "$OUT/gpu-tests.log" | head -60
TMA=true; [ $rc -eq 0 ] || TMA=false
timeout 180 $J -Darbor.gemm.tma=$TMA -cp "$CP" dev.arbor.kernels.bench.GemmBench > "$OUT/gemm-arbor.txt" 2>&1
echo "bench (tma=$TMA) exit $?"; grep -E "^variant|wgmma tiles|FAILED|Exception|Error|arbor gemm" "$OUT/gemm-arbor.txt" | head -30
PYTHONUNBUFFERED=1 timeout 90 python3 $D/gemm_torch.py "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"; grep -v "^PEER" "$OUT/gemm-table.txt" | cut -c1-400
