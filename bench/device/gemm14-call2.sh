#!/usr/bin/env bash
# Run 59-gemm14's second device call: the deep tiles' one-slice bit comparisons (GemmInvarianceGpuTest's new method, which the first
# call's 60 s test step did not reach), then seed workload 1 nbi with the measured rule (deepFaster), deep / main.
set -u
D=${1:-.device}
L=/tmp/gemm14; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "SUCCESSFUL|FAILED|tests (found|successful|failed)|differ|^auto  |decode steps:|rc=" $L/$name.log | cut -c1-230 | head -90; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > $L/clocks.txt
run inv 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#oneSliceWeightsOnTheDeepTilesKeepTheBits'
run w1-nbi-deep 25 $J -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/a
run w1-nbi-main 25 $J -Darbor.gemm.deep=false -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/b
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L .
cat $OUT/summary.txt | grep -v "^N=.* 0 of "; grep -c " 0 of " $OUT/summary.txt
