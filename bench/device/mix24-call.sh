#!/usr/bin/env bash
# Run 101-mix24 (session 24, helper mix24, issue 12): the shared pass's tall form (FlashSharedKernels.sharedTallBf16,
# -Darbor.flash.sharedTall). Rows: FlashPrefillBench tall (the shared pass at workload 2's mixed-step scale, 292 x 28 behind 752,
# and 66 x 28: the 64-row two-stage kernel against the tall forms, interleaved, states compared bit for bit; then both passes),
# the GPU same-bits test, then seed workload 2 --ab arbor.flash.sharedTall with the bench's fastest {warps, stages}.
#   run(command="bash .device/mix24/mix24-call.sh .device/mix24", carry=[".device/mix24"], timeout_s=170)
# Measured slower (bench/RESULTS.md "Run 101-mix24") and removed: the kernel, the switch, `FlashPrefillBench tall` and the tests this
# script runs live in commit f97ca8e1 (branch mix24); bundle that commit to run it again.
set -u
D=${1:-.device/mix24}
OUT=${OUT:-/tmp/mix24-out}; mkdir -p $OUT
L=/tmp/mix24; mkdir -p $L
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
  { echo "== $name"; grep -E "^tall|^A/B|steps|total s|^auto|rc=|Exception|Error|differ|DIFFERS|the same bits|bit for bit|GpuTest|tests (successful|failed|found)|FAILED|✘|✔" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 48 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench tall 3
BEST=$(grep -m1 "^tall: best" $L/bench.log)
W=$(echo "$BEST" | sed -n 's/.*warps=\([0-9]*\).*/\1/p'); S=$(echo "$BEST" | sed -n 's/.*stages=\([0-9]*\).*/\1/p')
W=${W:-12}; S=${S:-4}; echo "w2 A/B with sharedTallWarps=$W sharedTallStages=$S ($BEST)" >> $OUT/summary.txt
run gputest 28 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  "dev.arbor.kernels.attention.FlashHandoffGpuTest#theTallSharedPassGivesTheSixtyFourRowBitsAtModelShapes"
run w2-ab 66 $J -Darbor.flash.sharedTallWarps=$W -Darbor.flash.sharedTallStages=$S -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.sharedTall --out $L/w2
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cp $L/w2*.json $OUT/ 2>/dev/null; ls $L > $OUT/files.txt
cat $L/clocks.txt $L/timeline.txt; head -c 12000 $OUT/summary.txt
