#!/usr/bin/env bash
# Run 75-norm20's device call (session 20): -Darbor.cuda.fusedNormGemv (o and down at decode steps of at most 8 tokens: the
# slab GEMM adds its own K slices into the residual and normalises in its epilogue, no addRmsNormSplitRow launch). llama-7b
# decode at batch 1 (two passes a JVM) and batch 8, the switch on / off in separate JVMs; then the GPU tests (the epilogue's
# bits at llama-7b's o/down shapes, the engine's logits on / off, the fused forward and engine tests).
# From the repo root on the GPU machine, with bundle.sh --lean --model tiny-llama3: bash bench/device/norm20-call.sh .device
set -u
D=${1:-.device}
L=/tmp/norm20; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
B8="throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 128 --output-len 128"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode:|^decode steps|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|MethodSource|✘" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run b1-on 26 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench $B1
run b1-off 24 $J -Darbor.cuda.fusedNormGemv=false -cp $CP dev.arbor.server.Main bench $B1
run tests 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmAddNormGpuTest \
    dev.arbor.models.FusedNormGemvGpuTest dev.arbor.models.FusedForwardGpuTest dev.arbor.engine.EngineGpuTest
run b8-on 20 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench $B8
run b8-off 20 $J -Darbor.cuda.fusedNormGemv=false -cp $CP dev.arbor.server.Main bench $B8
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
