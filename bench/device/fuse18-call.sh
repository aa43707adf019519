#!/usr/bin/env bash
# Run 69-fuse18's device call (session 18): the wide q|k|v RoPE + KV store kernel (FusedKernels.qkvRopeStoreWide*, switch
# -Darbor.fused.qkvRopeWide, on). GPU tests (FusedKernelsGpuTest: the wide and one-pair kernels against the composition in bits;
# FusedForwardGpuTest and InvariantFlashAttentionGpuTest: the engine's default-mode bits with the wide kernel on), QkvRopeBench
# (the kernel alone at llama-7b shapes, 1 / 8 / 107 / 500 tokens, one-pair vs wide), then seed workload 2 and llama-7b b1
# (default mode) with the switch on and off. Each step under a share of the call's limit (LIMIT s in all).
# From the repo root on the GPU machine: bash .device/fuse18/fuse18-call.sh .device/fuse18
set -u
D=${1:-.device}
L=/tmp/fuse18; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
OFF=-Darbor.fused.qkvRopeWide=false
LIMIT=${LIMIT:-126}
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - SECONDS)); [ $left -lt 10 ] && { echo "== $name skipped (+${SECONDS}s)" >> $OUT/summary.txt; return; }
  [ $t -gt $left ] && t=$left; echo "== +${SECONDS}s $name (limit ${t}s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "tests (found|successful|failed)|qkvRopeStore tokens|^decode|decode steps:|device ms/step|auto total|tok/s|tokens/s|rc=|FAIL|Exception|Error:|MethodSource|JUnit" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 38 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.layer.FusedKernelsGpuTest \
    dev.arbor.models.FusedForwardGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest
run bench 10 $J -cp $CP dev.arbor.kernels.bench.QkvRopeBench
run w2-on 30 $J -cp $CP dev.arbor.server.Main bench $W2
run w2-off 30 $J $OFF -cp $CP dev.arbor.server.Main bench $W2
clocks
run b1-on 22 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-off 22 $J $OFF -cp $CP dev.arbor.server.Main bench $B1
clocks
echo "== end +${SECONDS}s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/timeline.txt; cat $L/clocks.txt; cat $OUT/summary.txt | head -150
