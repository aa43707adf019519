#!/usr/bin/env bash
# Run 26-gemm4, call 1, from the root of a checkout carrying the bundle of bench/gemm-bundle.sh as .dev-gemm4: does wgmma over a
# K slice give the same bits as mma.sync over it? (GemmInvarianceGpuTest: both methods, JUnit console.)
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm4
tar xJf $D/jre.tar.xz -C /tmp
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout 100 $J -jar $D/junit-platform-console-standalone-*.jar execute -cp "$CP" \
  --select-class dev.arbor.kernels.gemm.GemmInvarianceGpuTest --include-tag gpu --details=tree > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "N=.*differ|tests (found|successful|failed)" "$OUT/gpu-tests.log"; grep -B2 -A10 "✘" "$OUT/gpu-tests.log" | head -40
