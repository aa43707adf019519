#!/usr/bin/env bash
# Run 104b-final24 (session 24, lead): after chunkWarpTiles went on by default — the GPU tests run 104 did not reach (its test
# step hit its limit) plus the chunk-tile and invariance tests under the new default, then seed workload 2: chunkWarpTiles
# off/on once more and the shared pass's lean tile (-Darbor.flash.sharedLean) off/on twice, one JVM each.
#   bash bench/device/final24b-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 260)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/final24b-out}; mkdir -p $OUT
L=/tmp/final24b; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-240}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^A/B|total s |rc=|Exception|Error|differ|GpuTest|tests (successful|failed|found)|FAILED" $L/$name.log | grep -v "^\s*at \|SUCCESSFUL" | head -40; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 200000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 90 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest \
  dev.arbor.kernels.attention.PipelinedDecodeGpuTest dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest \
  dev.arbor.kernels.attention.FlashChunkWarpTilesGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.engine.EngineGpuTest
run w2-chunkwarp 45 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.chunkWarpTiles --out $L/w2c
run w2-lean1 45 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.sharedLean --out $L/w2l1
run w2-lean2 45 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.sharedLean --out $L/w2l2
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 10000 $OUT/summary.txt
