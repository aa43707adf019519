#!/usr/bin/env bash
# Run 39-gemm8's device call (bench/RESULTS.md): setmaxnreg on the GPU (GpuConformanceTest's setMaxRegisters case among the
# suite), the GEMM bit and reference checks with the new forms (TMA_256X3, TMA_192 sliced with a producer warpgroup),
# GemmBench ws (M >= 512 at issue 10's shapes and llama-7b's at 16,384: the default plan, TMA_128 with 6 and 7 stages,
# TMA_256, TMA_256X3; then the invariant plan's TMA_192 forms at the engine's token counts), the torch.matmul (cuBLAS) peer on
# the same shapes, then ncu of the plain and sliced kernels (GemmBench ncu-ws). Seven files, written straight to $OUT (at
# most 8 come back; what is there when a time limit stops the call comes back too).
# From the repo root on the GPU machine: bash DIR/gemm8-call.sh DIR   (DIR = the carried lean bundle, no fixtures)
# Ran at 1687e21, where TMA_192's sliced kernel had two forms (ncu's 6 launches; 5 since the work-item-0 form was removed).
set -u
D=${1:-.dev-gemm8}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
R=$OUT
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: $*" >> "$R/call.log"
  timeout "$t" "$@" > "$R/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$R/$name.log"; tail -1 "$R/$name.log" >> "$R/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks-before.txt" 2>&1
step gpu-tests ${T_TESTS:-70} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  'dev.arbor.kernels.gemm.GemmGpuTest#wgmmaAndMmaSyncTilesAgreeWithTheReference' \
  'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#hopperFormsAboveSixtyFourTokensEqualTheMmaSyncSlabPlan' \
  dev.arbor.accel.GpuConformanceTest
step bench ${T_BENCH:-75} $J -cp $CP dev.arbor.kernels.bench.GemmBench ws
PYTHONUNBUFFERED=1 timeout ${T_PEER:-40} python3 $D/gemm_torch.py "$R/bench.log" > "$R/gemm-table.txt" 2>&1; echo "peer rc=$?" >> "$R/call.log"
step ncu ${T_NCU:-50} ncu --set full -k regex:wgmmaTma -c 6 $J -cp $CP dev.arbor.kernels.bench.GemmBench ncu-ws
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks-after.txt" 2>&1
