#!/usr/bin/env bash
# Run 84-lead22 (session 22): the follow-up of run 82 on merged main — -Darbor.cuda.prologueNorm off/on at llama-7b batch 1
# (warm JVM first, then off / on / on / off), batch 1 after a 4,000-token prompt with -Darbor.paged.pipelineRounds off/on
# (issue 11's b1 x 4k kernel in the engine), then the GPU tests of session 21's three kernels.
#   bash bench/device/lead22-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 210)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/lead22-out}; mkdir -p $OUT
L=/tmp/lead22; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; local left=$((196 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode:|^decode steps|tok/s|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘|registers" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run warm 36 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
run b1-off 21 $J -Darbor.cuda.prologueNorm=false -cp $CP dev.arbor.server.Main bench $B1
run b1-on 21 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench $B1
run b1-on2 21 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench $B1
run b1-off2 21 $J -Darbor.cuda.prologueNorm=false -cp $CP dev.arbor.server.Main bench $B1
B4="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 4000 --output-len 128"
run b4k-on 24 $J -Darbor.paged.pipelineRounds=true -cp $CP dev.arbor.server.Main bench $B4
run b4k-off 24 $J -Darbor.paged.pipelineRounds=false -cp $CP dev.arbor.server.Main bench $B4
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmNormPrologueGpuTest dev.arbor.models.PrologueNormGpuTest dev.arbor.kernels.attention.PipelinedDecodeGpuTest
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
