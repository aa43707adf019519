#!/usr/bin/env bash
# Run 53-pp11's device call (bench/RESULTS.md): seed workload 2 with --no-batch-invariance, the ping-pong rule from 257 tokens
# (the default now) and from 1,024 (run 52's) interleaved, both with the residual epilogue's loads first; GemmBench pp-rule with
# C += (the engine's o and down) at workload 2's decode sizes; the ping-pong and persistent kernels' GPU tests.
# From the repo root on the GPU machine: bash DIR/pp11-call.sh DIR   (DIR = the carried bundle, no fixtures)
set -u
D=${1:-.dev-pp11}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance"
R=$OUT
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: ${*//$CP/\$CP}" >> "$R/call.log"
  timeout "$t" "$@" >> "$R/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$R/$name.log"; tail -1 "$R/$name.log" >> "$R/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks.txt" 2>&1
i=0
for minm in ${MINMS:-257 1024 257 1024}; do
  i=$((i+1)); echo "== $(date -u +%T) w2-nbi run $i -Darbor.gemm.pingPongMinM=$minm" >> "$R/w2.log"
  step w2 ${T_W2:-32} $J -Darbor.gemm.pingPongMinM=$minm -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/w2-$i-$minm
done
step bench ${T_BENCH:-20} $J -Dgemm.ppM=434,500 -Dgemm.ppShapes=4096x4096,4096x11008 -Dgemm.residual=true -cp $CP dev.arbor.kernels.bench.GemmBench pp-rule
step gpu-tests ${T_TESTS:-30} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  dev.arbor.kernels.gemm.GemmPingPongGpuTest dev.arbor.kernels.gemm.GemmPersistentGpuTest
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> "$R/clocks.txt" 2>&1
grep -E "^== |auto total s|auto decode device|auto prefill/mixed device" "$R/w2.log"; grep -E "^rule|FAILED" "$R/bench.log"; tail -5 "$R/gpu-tests.log"
