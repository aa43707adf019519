#!/usr/bin/env bash
# Run 96-final23 (session 23, lead): the merged main — engine/model GPU tests (fixtures: closing-bundle.sh), the split form at every
# walk count (-Darbor.flash.splitAlways) off/on in one JVM on llama3.2-1b batch 128 (nbi) and seed workload 2 (default mode), then the
# defaults' llama-7b batch 1 (two runs) and seed workload 1.
#   bash bench/device/final23-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz", ".device/fixtures.tar.xz"], timeout_s 430)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/final23-out}; mkdir -p $OUT
L=/tmp/final23; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-420}
tar xJf "$D/jre.tar.xz" -C /tmp
[ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^A/B|^decode:|^decode steps|tok/s|total s |rc=|Exception|Error|differ|the same bits|GpuTest|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 150 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.engine.EngineGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest \
  dev.arbor.models.CudaGraphGpuTest dev.arbor.models.FusedForwardGpuTest dev.arbor.models.EarlyTriggerGpuTest dev.arbor.models.ZeroInNormGpuTest \
  dev.arbor.models.NbiFlashDecodeGpuTest dev.arbor.models.CascadeForwardGpuTest dev.arbor.kernels.attention.FlashSplitGpuTest
run b128-ab 60 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 \
  --output-len 64 --no-batch-invariance --ab arbor.flash.splitAlways --ab-rounds 2 --out $L/b128
run w2-ab 60 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.splitAlways --out $L/w2
run b1 45 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256 --out $L/b1
run w1 40 $J -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 12000 $OUT/summary.txt
