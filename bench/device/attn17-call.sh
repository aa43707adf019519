#!/usr/bin/env bash
# Run 66-attn17's device call (session 17): the split form of the short tiles (FlashSplitKernels: four warps splitting each key
# tile's S by keys and O by dims, a ring of 2-4 K/V stages) for decode steps below the one-warp kernel's walks (issue 12's b1 row).
# GPU tests (FlashSplitGpuTest: split == one-warp == 64-row bits at model shapes; InvariantFlashAttentionGpuTest and
# FusedForwardGpuTest: the engine's default-mode bits, the split form on), FlashDecodeBench split (one layer: 64-row tiles against
# the split form at 2/3/4 stages, outputs compared), then llama-7b b1 decode with the split form on (the default) and off.
# From the repo root on the GPU machine: bash .device/attn17/attn17-call.sh .device/attn17
set -u
D=${1:-.device}
L=/tmp/attn17; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|device ms|tok/s|tokens/s|copy|rc=|FAIL|Exception|Error|bit for bit|==|MethodSource|JUnit" $L/$name.log | grep -v "^\s*at " | head -80; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 52 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashSplitGpuTest \
    dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.FusedForwardGpuTest
run bench 18 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench split
run b1-on 28 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-off 26 $J -Darbor.flash.splitDecode=false -cp $CP dev.arbor.server.Main bench $B1
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt | head -150
