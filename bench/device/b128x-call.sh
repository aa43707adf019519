#!/usr/bin/env bash
# Run 100-b128x (session 24): every host -> device copy of a step from page-locked memory (-Darbor.cuda.pinnedCopies: the
# pageable ones -- flash plan tiles, fed-token pairs, block-table rows, sampler lists -- through accel's PinnedRing; cos/sin in
# one 2D copy). PinnedCopiesGpuTest (the same bits, default mode; nbi within split-K's atomics noise; the ring used with the
# switch on only); then llama3.2-1b b128 nbi (issue 12's row) A/B'd in one JVM, 3 rounds (tokens compared by the bench), then
# b32 nbi, 2 rounds.
#   bash .device/b128x/b128x-call.sh .device/b128x   (carry [".device/b128x"], timeout_s 165)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/b128x-out}; mkdir -p $OUT
L=/tmp/b128x; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-148}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|GpuTest|tests (successful|failed|found)|rc=|Exception|Error|FAILED|differ" $L/$name.log | grep -v "^\s*at " | head -90; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.PinnedCopiesGpuTest
B="throughput --model synthetic:llama3.2-1b --device cuda --prompt-len 512 --output-len 64 --no-batch-invariance"
run b128-ab 50 $J -cp $CP dev.arbor.server.Main bench $B --batch 128 --ab arbor.cuda.pinnedCopies --ab-rounds 3 --out $L/b128-ab
run b32-ab 40 $J -cp $CP dev.arbor.server.Main bench $B --batch 32 --ab arbor.cuda.pinnedCopies --ab-rounds 2 --out $L/b32-ab
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
