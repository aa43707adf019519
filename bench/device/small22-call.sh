#!/usr/bin/env bash
# Run 88-small22 (session 22): split-K reduced in the cluster's shared memory (-Darbor.gemm.clusterSplitK, off by default) against
# the default plan's split-K by atomics into C zeroed by a launch of its own (issue 12's llama3.2-1b b128 step: q|k|v, o, down at
# 128 rows; issue 10's 33-64-token TMA_64 points). GemmClusterGpuTest (the reference; the slab plan's bits), GemmBench cluster
# (1b and 7b q|k|v / o / down at 128, 107, 64, 48 tokens, off / on / off / on), then llama3.2-1b b128 x 512 nbi off / on / off / on
# (four JVMs), then seed workload 1 nbi with --ab (one JVM) if time is left.
#   bash .device/small22/small22-call.sh .device/small22   (carry [".device/small22"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/small22-out}; mkdir -p $OUT
L=/tmp/small22; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
LIMIT=${LIMIT:-143}
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode|A/B|tok/s|device ms/step|^cluster |cluster split-K|rc=|Exception|Error|FAILED|tests (successful|failed|found)|✘|differ" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
run tests 32 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmClusterGpuTest
run bench 34 $J -Dgemm.clusterM=${CLUSTER_M:-128,107,64,48} -cp $CP dev.arbor.kernels.bench.GemmBench cluster
run b128-off1 18 $J -Darbor.gemm.clusterSplitK=false -cp $CP dev.arbor.server.Main bench $B128 --out $L/b128-off1
run b128-on1 18 $J -Darbor.gemm.clusterSplitK=true -cp $CP dev.arbor.server.Main bench $B128 --out $L/b128-on1
run b128-off2 18 $J -Darbor.gemm.clusterSplitK=false -cp $CP dev.arbor.server.Main bench $B128 --out $L/b128-off2
run b128-on2 18 $J -Darbor.gemm.clusterSplitK=true -cp $CP dev.arbor.server.Main bench $B128 --out $L/b128-on2
run w1-nbi-ab 30 $J -cp $CP dev.arbor.server.Main bench shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 \
    --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance --ab arbor.gemm.clusterSplitK --out $L/w1-ab
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
