#!/usr/bin/env bash
# Run 104c-final24 (session 24, lead): the final defaults (chunkWarpTiles and the decode-scale lean ring on) — the default mode's
# invariance and engine GPU tests, seed workload 2 on the defaults, then seed workload 1 with the lean ring off/on.
#   bash bench/device/final24c-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 170)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/final24c-out}; mkdir -p $OUT
L=/tmp/final24c; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-150}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^A/B|total s |^  decode steps|rc=|Exception|Error|differ|GpuTest|tests (successful|failed|found)|FAILED|SUCCESSFUL" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 200000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.engine.EngineGpuTest \
  dev.arbor.kernels.attention.FlashChunkWarpTilesGpuTest
run w2 30 $J -cp $CP dev.arbor.server.Main bench $W2 --out $L/w2
run w1-lean 30 $J -cp $CP dev.arbor.server.Main bench $W1 --ab arbor.flash.sharedLean --out $L/w1l
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 8000 $OUT/summary.txt
