#!/usr/bin/env bash
# Run 49-pp10's device call (bench/RESULTS.md): the GEMM GPU tests run 48-pp10's call cut (GemmPersistentGpuTest) and
# GemmOverlapGpuTest, then GemmBench pp-rule (the default plan without and with the ping-pong rule, interleaved, at issue 10's
# points where the rule changes the plan). Logs straight to $OUT.
# From the repo root on the GPU machine: bash DIR/pp10-call2.sh DIR   (DIR = the carried lean bundle, no fixtures)
set -u
D=${1:-.dev-pp10}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
R=$OUT
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: $*" >> "$R/call.log"
  timeout "$t" "$@" > "$R/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$R/$name.log"; tail -1 "$R/$name.log" >> "$R/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks.txt" 2>&1
step bench ${T_BENCH:-30} $J -cp $CP dev.arbor.kernels.bench.GemmBench pp-rule
step gpu-tests ${T_TESTS:-25} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  dev.arbor.kernels.gemm.GemmOverlapGpuTest dev.arbor.kernels.gemm.GemmPersistentGpuTest
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> "$R/clocks.txt" 2>&1
