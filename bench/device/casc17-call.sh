#!/usr/bin/env bash
# Run 66-casc17's device call (session 17): the default mode's decode handoff with overlapping launches
# (-Darbor.flash.handoffOverlap) and the shared pass's dim split (-Darbor.flash.sharedDimSplit), both default on: GPU tests
# (FlashHandoffGpuTest with the new decodes-only test, CascadeForwardGpuTest, InvariantFlashAttentionGpuTest), FlashDecodeBench overlap
# (plain / overlap / dim split / both, interleaved), then seed workload 1 in the default mode with both on and both off.
# From the repo root on the GPU machine:   bash .device/casc17/casc17-call.sh .device/casc17
set -u
D=${1:-.device}
L=/tmp/casc17; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|bit for bit|handoff overlap:|auto total s|decode (device|wall) ms/step|prefill/mixed device|rc=|FAIL|Exception|expected" $L/$name.log | head -40; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests-handoff 25 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest
run tests-models 35 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest
run bench-overlap 20 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench overlap
run w1-on 27 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --out /tmp/o/w1-on
run w1-off 27 $J -Darbor.flash.handoffOverlap=false -Darbor.flash.sharedDimSplit=false -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --out /tmp/o/w1-off
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
