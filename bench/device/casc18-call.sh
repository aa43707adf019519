#!/usr/bin/env bash
# Run 69-casc18's device call (session 18): the shared pass's deeper K/V ring (FlashSharedKernels, -Darbor.flash.sharedRing, default
# on; at this call 4 stages where the launch was one work-group an SM, 3 where two, else the two-stage kernels: the rule is now 3 up to
# two an SM). FlashDecodeBench ring has since gained an s3-lean column (-Darbor.flash.sharedLean), not yet run on the device. GPU tests (FlashHandoffGpuTest
# with the ring test, InvariantFlashAttentionGpuTest), FlashDecodeBench ring (the shared pass alone at workloads 1 and 2's decode
# shapes: two-stage against 2/3/4 stages, whole and dim split, state bits compared; the handoff by rule on vs off), then seed
# workloads 2 and 1 in the default mode with the ring on and off (the last rows get what is left of a 126 s budget).
# From the repo root on the GPU machine:   bash .device/casc18/casc18-call.sh .device/casc18
set -u
D=${1:-.device}
L=/tmp/casc18; mkdir -p $L /tmp/o
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((124 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left; [ $t -lt 3 ] && { echo "== $name skipped (no time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (limit $t s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "tests (found|successful|failed)|bit for bit|^ring|auto total s|decode (device|wall) ms/step|prefill/mixed device|rc=|FAIL|Exception|expected|DIFFERS" $L/$name.log | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 36 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest
run bench-ring 20 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench ring
run w2-on 30 $J -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-on
run w2-off 30 $J -Darbor.flash.sharedRing=false -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-off
run w1-on 26 $J -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-on
run w1-off 26 $J -Darbor.flash.sharedRing=false -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-off
clocks
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
