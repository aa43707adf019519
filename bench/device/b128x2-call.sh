#!/usr/bin/env bash
# Follow-up of run 100-b128x (session 24), for the lead's call (b128x used its one call on run 100): (1) the vector-reduction
# split-K (-Darbor.gemm.vectorRed: red.global.add.v4.f32 after a 4x4 lane transpose, GemmKernels.redF32Tile) -- VectorRedGpuTest
# (nbi logits within split-K's atomics noise, vector launches with the switch on only) and GpuConformanceTest (the vectorRed
# conformance kernel beside every other), GemmBench vred (llama3.2-1b and llama-7b split products at 128 and 107 tokens, scalar
# vs vector off/on/off/on, the vector form checked against the reference), then 1b b128 nbi --ab arbor.gemm.vectorRed; (2) one
# 1b b128 nbi run with -Darbor.cuda.callTimes=true: every driver call's host time by name and the ~160 calls before the decode
# pass's midpoint, to name the call that blocks the host until the device drains (the 0.03-0.13 ms idle a step).
#   bash .device/b128x/b128x2-call.sh .device/b128x   (carry [".device/b128x"], timeout_s 170)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/b128x2-out}; mkdir -p $OUT
L=/tmp/b128x2; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-150}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|^vred |^driver call|GpuTest|tests (successful|failed|found)|rc=|Exception|Error|FAILED|MethodSource.*FAILED" $L/$name.log | grep -v "^\s*at " | head -90; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active,driver_version --format=csv >> $L/clocks.txt; }
clocks
run tests 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.VectorRedGpuTest dev.arbor.accel.GpuConformanceTest
run vred 25 $J -Dgemm.vredM=128,107 -cp $CP dev.arbor.kernels.bench.GemmBench vred
B="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
if grep -q "^vred .*on/off" $L/vred.log; then
  run b128-vred 35 $J -cp $CP dev.arbor.server.Main bench $B --ab arbor.gemm.vectorRed --ab-rounds 2 --out $L/b128-vred
fi
run b128-calls 20 $J -Darbor.cuda.callTimes=true -cp $CP dev.arbor.server.Main bench $B --out $L/b128-calls
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
