#!/usr/bin/env bash
# Run 104-final24 (session 24, lead): the merged main — engine/model/kernel GPU tests (fixtures: closing-bundle.sh), then
# seed workload 2 A/Bs in one JVM each (the balanced sliced tiles, on by default; the chunks in one-warp tiles and the shared
# pass's tall form, off), seed workload 1 with the balanced tiles off/on, llama-7b b1 (two runs), llama3.2-1b b128 nbi, Baichuan2-13B w1.
#   bash bench/device/final24-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz", ".device/fixtures.tar.xz"], timeout_s 480)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/final24-out}; mkdir -p $OUT
L=/tmp/final24; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-460}
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
  { echo "== $name"; grep -E "^ab |^A/B|^decode:|^decode steps|^  other steps|^other steps|tok/s|total s |rc=|Exception|Error|differ|the same bits|GpuTest|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 150 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.engine.EngineGpuTest dev.arbor.engine.AsyncSchedulingGpuTest \
  dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.CudaGraphGpuTest dev.arbor.models.FusedForwardGpuTest \
  dev.arbor.models.NbiFlashDecodeGpuTest dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.ReferenceLogitsGpuTest \
  dev.arbor.kernels.gemm.GemmInvarianceGpuTest dev.arbor.kernels.attention.PipelinedDecodeGpuTest \
  dev.arbor.kernels.attention.FlashHandoffGpuTest dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest ${EXTRA_TESTS:-}
run w2-balanced 60 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.gemm.slicedBalanced --out $L/w2b
run w2-chunkwarp 60 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.chunkWarpTiles --out $L/w2c
[ -n "${TALL:-}" ] && run w2-tall 60 $J -cp $CP dev.arbor.server.Main bench $W2 --ab $TALL --out $L/w2t
run w1-balanced 45 $J -cp $CP dev.arbor.server.Main bench $W1 --ab arbor.gemm.slicedBalanced --out $L/w1b
run b1 45 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256 --out $L/b1
run b128 30 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 \
  --output-len 64 --no-batch-invariance --out $L/b128
run baichuan-w1 45 $J -cp $CP dev.arbor.server.Main bench shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 \
  --output-len 30 --modes auto --device cuda --model synthetic:baichuan2-13b --out $L/bw1
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 12000 $OUT/summary.txt
