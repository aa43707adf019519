#!/usr/bin/env bash
# Run 30-gemm5, call 2 (after call 1 put the persistent kernel off by default): the GEMM GPU tests call 1's 60 s cut off
# (GemmGpuTest, GemmPersistentGpuTest: the persistent kernel and the grouped raster against the plain row-major kernel, bit for
# bit), then the 8 x 2048 prefill (--no-batch-invariance) with the final default plan. Bundle as gemm5-call.sh's, .dev-gemm5.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm5
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
PF="throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
echo "== $(date -u +%T) gpu tests"
timeout ${T_TESTS:-50} $J -cp "$CP" dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmPersistentGpuTest \
  > "$OUT/gpu-tests2.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (found|successful|failed|aborted)|SUCCESSFUL|FAILED|elements differ" "$OUT/gpu-tests2.log" | cut -c1-220 | head -20
echo "== $(date -u +%T) prefill 8 x 2048 (nbi), final default plan"
timeout ${T_PREFILL:-40} $J -cp "$CP" dev.arbor.server.Main bench $PF --out "$OUT/pf2" > "$OUT/prefill2.log" 2>&1
echo "prefill exit $?"; grep -E "^prefill:|other steps|decode steps" "$OUT/prefill2.log" | cut -c1-260
echo "== $(date -u +%T) done"
