#!/usr/bin/env bash
# Run 97-walk24 (session 24): the one-buffer decode pass's direct form (-Darbor.flash.warpDirect: Q's mma fragments from global memory
# into registers, no causal select below every row). FlashDecodeBench direct (halves | direct | direct + bounds 12 | ring | direct ring
# at workload 2, llama3.2-1b b128 and workload 1, bits compared), the direct form's GPU test, then the engine A/Bs of the switch: seed
# workload 2 (default mode) with the direct form's launch bounds the kernel rows found faster at workload 2, and llama3.2-1b b128 nbi.
#   bash bench/device/walk24-call.sh .device/walk24   (carry [".device/walk24"], timeout_s 160)
set -u
D=${1:-.device/walk24}
OUT=${OUT:-/tmp/walk24-out}; mkdir -p $OUT
L=/tmp/walk24; mkdir -p $L
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
  { echo "== $name"; grep -E "^onebuffer|resources:|^ab |^A/B|^decode:|^decode steps|tok/s|total s |rc=|Exception|Error|differ|DIFFERS|bit for bit|SUCCESSFUL|FAILED|tests (successful|failed|found)" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run kbench 36 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench direct 3
# the engine A/B's launch bounds: 12 where the kernel rows found direct + bounds 12 faster than direct at workload 2, else none
W2ROW=$(grep "^onebuffer: 500" $L/kbench.log | head -1)
TD=$(echo "$W2ROW" | sed -n 's/.*| direct \([0-9.]*\) ms.*/\1/p')
TB=$(echo "$W2ROW" | sed -n 's/.*| direct+b12 \([0-9.]*\) ms.*/\1/p')
BLK=0; [ -n "$TD" ] && [ -n "$TB" ] && awk "BEGIN{exit !($TB < $TD)}" && BLK=12
echo "== engine A/Bs with -Darbor.flash.warpDirectBlocks=$BLK (w2 direct $TD ms, direct+b12 $TB ms)" >> $OUT/summary.txt
run gputest 24 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest#theDirectFormGivesTheOneWarpAndOnePassBits
run w2-ab 58 $J -Darbor.flash.warpDirectBlocks=$BLK -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.warpDirect --out $L/w2
run b128-ab 40 $J -Darbor.flash.warpDirectBlocks=$BLK -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b --device cuda --batch 128 \
  --prompt-len 512 --output-len 64 --no-batch-invariance --ab arbor.flash.warpDirect --ab-rounds 2 --out $L/b128
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
for f in $L/w2 $L/b128; do [ -d $f ] && cp -r $f $OUT/ 2>/dev/null; done
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
