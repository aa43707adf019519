#!/usr/bin/env bash
# Run 64-casc16's device call (session 16): the tensor-core shared level's cp.async ring 3-4 deep (-Darbor.cascade.sharedStages,
# default 2). GPU tests (cascade + CascadeForwardGpuTest: the deep rings' bits against the double buffer), AttentionBench cascade rows
# with this branch's kernels (its casc16 column: 2, 3, 4, 2, 4, 3 stages interleaved) and with main's kernels jar
# (.device/casc16/main-lib), then the engine rows --no-batch-invariance at the bench's best depth S (107 x 530's mean step): workload 1,
# workload 2, Baichuan2-13B workload 1, and workload 1 at 2 stages last. From the repo root on the GPU machine:
#   bash .device/casc16/call.sh .device/casc16
set -u
D=${1:-.device}
L=/tmp/casc16; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPO=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|seqs sharing|casc16|auto total s|device ms/step|rc=|FAIL|Exception" $L/$name.log | head -60; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.attention.AttentionGpuTest#cascadeAtTheSeedsSharedPrefixShape' \
    dev.arbor.models.CascadeForwardGpuTest
run bench-new 45 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
run bench-main 22 $J -Dattn.cascadeOnly=true -cp $CPO dev.arbor.kernels.bench.AttentionBench
# the best depth at 107 x 530 (its first casc16 line: the mean of each depth's two step figures)
S=$(grep -m1 "casc16 shared ring" $L/bench-new.log | tr ';' '\n' | sed -n 's/.* \([234]\) stages: step \([0-9.]*\) us.*/\1 \2/p' \
    | awk '{s[$1]+=$2; n[$1]++} END {b=2; for (k in s) if (s[k]/n[k] < s[b]/n[b]) b=k; print b}')
S=${S:-2}; echo "best depth at 107 x 530: $S" | tee -a $OUT/summary.txt
run w1-nbi-s$S 22 $J -Darbor.cascade.sharedStages=$S -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w1-nbi-s$S
run w2-nbi-s$S 24 $J -Darbor.cascade.sharedStages=$S -cp $CP dev.arbor.server.Main bench $W2 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w2-nbi-s$S
run bc-w1-nbi-s$S 38 $J -Darbor.cascade.sharedStages=$S -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --no-batch-invariance --out /tmp/o/bc-w1-nbi-s$S
[ "$S" != 2 ] && run w1-nbi-s2 22 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b --no-batch-invariance --out /tmp/o/w1-nbi-s2
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
