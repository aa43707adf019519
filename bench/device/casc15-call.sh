#!/usr/bin/env bash
# Run 61-casc15's device call (session 15): the nbi cascade's suffix first (the shared level overlapping the warp suffix, then the
# merge launch; -Darbor.cascade.suffixFirst, off by default) and the own-range warp suffix's U / launch bounds (bench knobs).
# GPU tests (cascade + CascadeForwardGpuTest), AttentionBench cascade rows with this branch's kernels (its casc15 forms line
# interleaved) and with main's kernels jar (.device/casc15/main-lib), then the engine rows --no-batch-invariance: workload 1 (default,
# suffix first), Baichuan2-13B workload 1, workload 2 (default, suffix first). From the repo root on the GPU machine:
#   bash .device/casc15/call.sh .device/casc15
set -u
D=${1:-.device}
L=/tmp/casc15; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPO=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|seqs sharing|casc15|auto total s|device ms/step|rc=|FAIL|Exception" $L/$name.log | head -40; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.attention.AttentionGpuTest#cascadeAtTheSeedsSharedPrefixShape' \
    dev.arbor.models.CascadeForwardGpuTest
run bench-new 50 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
run bench-main 25 $J -Dattn.cascadeOnly=true -cp $CPO dev.arbor.kernels.bench.AttentionBench
run w1-nbi 20 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w1-nbi
run w1-nbi-first 20 $J -Darbor.cascade.suffixFirst=true -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w1-nbi-first
run w2-nbi 25 $J -cp $CP dev.arbor.server.Main bench $W2 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w2-nbi
run w2-nbi-first 25 $J -Darbor.cascade.suffixFirst=true -cp $CP dev.arbor.server.Main bench $W2 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w2-nbi-first
run bc-w1-nbi 40 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --no-batch-invariance --out /tmp/o/bc-w1-nbi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
