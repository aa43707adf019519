#!/usr/bin/env bash
# Session 18 attn18b (no device call of its own: the lead runs these lines in the session's closing call). The one-warp decode pass
# with one K/V buffer (FlashWarpOneBufferKernels, -Darbor.flash.warpOneBuffer, default off; -Darbor.flash.warpOneBufferBlocks=N launch
# bounds, -Darbor.flash.warpOneBufferHalves). FlashDecodeBench onebuffer (the pass alone at workload 2 / workload 1 / llama3.2-1b b128
# shapes: plain | whole tiles | key halves | each + bounds 12, interleaved, bits compared with plain), then the GPU test
# (FlashWarpOneBufferGpuTest: one-buffer == warpBf16OutBf16 / warpF16 bits at model shapes in three forms; workload 2's and 1's
# decode handoffs into it == one pass).
# From the repo root on the GPU machine: bash .device/attn18b/attn18b-call.sh .device/attn18b
set -u
D=${1:-.device}
L=/tmp/attn18b; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name (limit $t s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^onebuffer|resources|rc=|FAIL|Exception|Error|bit for bit|MethodSource|JUnit" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 16 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench onebuffer
run tests 42 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt | head -100
