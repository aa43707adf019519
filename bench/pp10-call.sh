#!/usr/bin/env bash
# Run 48-pp10's device call (bench/RESULTS.md): the ping-pong TMA GEMM's bits against the plain kernel and the reference
# (GemmPingPongGpuTest) with the GEMM GPU tests beside it (GemmGpuTest, GemmPersistentGpuTest), GemmBench pp (the default plan,
# TMA_PP128, TMA_PP192 and the default plan again at issue 10's 36 points and llama-7b's at 16,384 tokens; k/v 1024×4096's
# splits; the invariant plan at 434 / 512 tokens), the torch.matmul (cuBLAS) peer on the "CSV,gemm" shapes, then ncu of TMA_256
# and the ping-pong tiles at 4096² × 2048 (GemmBench ncu-pp). Logs straight to $OUT (at most 8 files come back).
# From the repo root on the GPU machine: bash DIR/pp10-call.sh DIR   (DIR = the carried lean bundle, no fixtures)
set -u
D=${1:-.dev-pp10}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
R=$OUT
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: $*" >> "$R/call.log"
  timeout "$t" "$@" > "$R/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$R/$name.log"; tail -1 "$R/$name.log" >> "$R/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks.txt" 2>&1
step gpu-tests ${T_TESTS:-40} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  dev.arbor.kernels.gemm.GemmPingPongGpuTest dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmPersistentGpuTest
step bench ${T_BENCH:-70} $J -cp $CP dev.arbor.kernels.bench.GemmBench pp
if [ "${T_PEER:-30}" != 0 ]; then
  PYTHONUNBUFFERED=1 timeout ${T_PEER:-30} python3 $D/gemm_torch.py "$R/bench.log" > "$R/gemm-table.txt" 2>&1; echo "peer rc=$? $(date -u +%T)" >> "$R/call.log"
fi
step ncu ${T_NCU:-20} ncu --set full -k regex:wgmmaTma -c 3 $J -cp $CP dev.arbor.kernels.bench.GemmBench ncu-pp
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> "$R/clocks.txt" 2>&1
