#!/usr/bin/env bash
# Run 84-lead22 (session 22): on session 21's merged main — batch 1 after a 4,000-token prompt with -Darbor.paged.pipelineRounds
# on/off (issue 11's b1 x 4k kernel in the engine), seed workload 2 with -Darbor.flash.warpHalfRing off/on twice (two JVMs) and
# -Darbor.flash.chunkWarpTiles off/on at the 8,192-token budget (issue 12), then PipelinedDecodeGpuTest.
#   bash bench/device/lead22-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 235)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/lead22-out}; mkdir -p $OUT
L=/tmp/lead22; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; local left=$((226 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode:|ab |->|total|s wall|requests|^mode|same tokens|^decode steps|tok/s|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘|registers" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
B4="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 4000 --output-len 128"
run b4k-on ${B4ON:-26} $J -Darbor.paged.pipelineRounds=true -cp $CP dev.arbor.server.Main bench $B4
run b4k-off ${B4OFF:-24} $J -Darbor.paged.pipelineRounds=false -cp $CP dev.arbor.server.Main bench $B4
[ -n "${ONLY_B4K:-}" ] || {
run ring-ab 42 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.warpHalfRing --out $L/ring-ab
run ring-ab2 42 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.warpHalfRing --out $L/ring-ab2
run chunk-ab 56 $J -cp $CP dev.arbor.server.Main bench $W2 --max-num-batched-tokens 8192 --ab arbor.flash.chunkWarpTiles --out $L/chunk-ab
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.PipelinedDecodeGpuTest
}
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
