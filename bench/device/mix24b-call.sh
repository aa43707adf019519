#!/usr/bin/env bash
# Prepared by helper mix24 (session 24), NOT RUN: the lean tile at a prefill step's scale (-Darbor.flash.sharedLean: the ring at 2 stages,
# three an SM, no causal select, in place of the two-stage kernel; the same bits on the CPU executor). Rows: FlashPrefillBench lean
# (workload 2's step-2 scale and the handoff row, off/on interleaved, state bits), the GPU tests, then seed workload 2 --ab arbor.flash.sharedLean.
#   bench/device/bundle.sh --lean; copy .device/lib, .device/jre.tar.xz and this script to /work/main/.device/mix24b/, then
#   run(command="bash .device/mix24b/mix24b-call.sh .device/mix24b", carry=[".device/mix24b"], timeout_s=170)
set -u
D=${1:-.device/mix24b}
OUT=${OUT:-/tmp/mix24b-out}; mkdir -p $OUT
L=/tmp/mix24b; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-148}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^lean|^A/B|steps|total s|^auto|rc=|Exception|Error|differ|DIFFERS|bit for bit|GpuTest|tests (successful|failed|found)|FAILED|✘|✔" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 30 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench lean 3
run gputest 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  "dev.arbor.kernels.attention.FlashHandoffGpuTest#theLeanTileAtAPrefillStepsScaleGivesTheOnePassBits" \
  "dev.arbor.kernels.attention.FlashHandoffGpuTest#theSharedPassRingGivesTheOnePassBitsAtModelShapes"
run w2-ab 70 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.sharedLean --out $L/w2
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 12000 $OUT/summary.txt
