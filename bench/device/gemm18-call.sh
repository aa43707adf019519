#!/usr/bin/env bash
# Run 69-gemm18's device call (session 18), on the jars of commit 7ffb29f (branch gemm18; the stagger was dropped after this call,
# bench/RESULTS.md run 69-gemm18): the sliced kernel's stagger (-Darbor.gemm.slicedStagger=LAG, default 2 there; 0 = the kernel before):
# consumer warpgroup j starts j·LAG K tiles behind the first, so the wgmma drains before the K-slice folds do not line up.
# GPU tests (GemmInvarianceGpuTest: staggered == unstaggered == the mma.sync slab plan's bits at llama-7b's o/down/q|k|v, 107/500/2048
# tokens; the invariant plan's Hopper forms at the default lag; FusedForwardGpuTest), GemmBench stagger (o/down/q|k|v at 107/500/2048,
# lags 0/2/0/2 interleaved and 1/3/5), then seed workload 2 (default mode) with the stagger off and on.
# From the repo root on the GPU machine: bash .device/gemm18/gemm18-call.sh .device/gemm18
set -u
D=${1:-.device}
L=/tmp/gemm18; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "tests (found|successful|failed)|^stagger|FAILED|differ \(max [1-9]|auto total s|device ms/step|tokens per step|rc=|Exception|Error" $L/$name.log \
      | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 38 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#staggeredSlicesEqualTheMmaSyncSlabPlan' \
    'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#hopperFormsAboveSixtyFourTokensEqualTheMmaSyncSlabPlan' dev.arbor.models.FusedForwardGpuTest
run bench 28 $J -Dgemm.staggerLag=2 -cp $CP dev.arbor.kernels.bench.GemmBench stagger
run w2-off 26 $J -Darbor.gemm.slicedStagger=0 -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-off
run w2-on 26 $J -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-on
clocks
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt | head -150
