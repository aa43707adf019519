#!/usr/bin/env bash
# Run 66-gemm17's checks for the closing call (session 17; gemm17 made no device call of its own): the invariant plan's slab
# groups (-Darbor.gemm.slabGroups, on). GPU test of their bits against the mma.sync slab plan, GemmBench slab-groups (the
# plan's o / down GEMMs of llama-7b, Baichuan2-13B and 1b at 65-256 tokens, groups off / on / off / on, slabs unsummed), then the
# default-mode rows that take them (seed workload 1: llama-7b o and down at 107 tokens; the same on Baichuan2-13B: 5120-wide o / down)
# off / on / on / off, one JVM each. ~200 s of commands.
# From the repo root on the GPU machine: bash .device/gemm17/gemm17-call.sh .device/gemm17
set -u
D=${1:-.device}
L=/tmp/gemm17; mkdir -p $L
[ -x /tmp/jre/bin/java ] || tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
OFF="-Darbor.gemm.slabGroups=false"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
BC="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:baichuan2-13b"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  { echo "== $name"; grep -E "^(SUCCESSFUL|FAILED|ABORTED) |tests (found|successful|failed)|^slab-groups|^decode|^prefill:|total|CUDA graphs|rc=|FAIL|Exception|Error" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  tar czf $OUT/logs.tgz -C $L . 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmInvarianceGpuTest#slabGroupsEqualTheMmaSyncSlabPlan
run bench 60 $J -cp $CP dev.arbor.kernels.bench.GemmBench slab-groups
run w1-off 40 $J $OFF -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1-off
run w1-on 40 $J -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1-on
run bc-on 60 $J -cp $CP dev.arbor.server.Main bench $BC --out $L/bc-on
run bc-off 60 $J $OFF -cp $CP dev.arbor.server.Main bench $BC --out $L/bc-off
clocks
echo "== $(date -u +%T) done" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
