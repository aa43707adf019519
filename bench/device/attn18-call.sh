#!/usr/bin/env bash
# Run 69-attn18's device call (session 18): the one-warp per-sequence decode pass with the walk's later K/V blocks prefetched into
# the L2 (FlashWarpKernels, -Darbor.flash.warpPrefetch; on by default in the jars of run 69, off since: it measured slower, and the
# engine rows below now name it explicitly). GPU tests (FlashWarpGpuTest: prefetch == one-warp == 64-row
# bits at model shapes, workload 1's handoff == one pass; InvariantFlashAttentionGpuTest: the engine's default-mode bits, prefetch
# on), FlashDecodeBench prefetch (the pass alone at workload 2 / workload 1 / llama3.2-1b b128 shapes, off | on interleaved,
# outputs compared bit for bit), then seed workloads 2 and 1 (default mode) with the switch on and off. A step gets what is left of
# a 126 s budget when less than its own limit. Run 69 cut the tests (InvariantFlashAttentionGpuTest not reached) and both workload 2
# rows at their limits: give the tests ~45 s and a workload 2 row ~32 s.
# From the repo root on the GPU machine: bash .device/attn18/attn18-call.sh .device/attn18
set -u
D=${1:-.device}
L=/tmp/attn18; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((126 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -le 2 ] && { echo "== $name skipped (no time left)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (limit $t s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^prefetch|decode steps|device ms|tok/s|rc=|FAIL|Exception|Error|bit for bit|MethodSource|JUnit" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 32 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashWarpGpuTest \
    dev.arbor.models.InvariantFlashAttentionGpuTest
run bench 13 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench prefetch
run w2-on 24 $J -Darbor.flash.warpPrefetch=true -cp $CP dev.arbor.server.Main bench $W2
run w2-off 24 $J -Darbor.flash.warpPrefetch=false -cp $CP dev.arbor.server.Main bench $W2
run w1-on 19 $J -Darbor.flash.warpPrefetch=true -cp $CP dev.arbor.server.Main bench $W1
run w1-off 19 $J -Darbor.flash.warpPrefetch=false -cp $CP dev.arbor.server.Main bench $W1
clocks
echo "wall $(( $(date +%s) - T0 )) s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt | head -150
