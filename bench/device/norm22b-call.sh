#!/usr/bin/env bash
# Follow-up of run 86-norm22 (session 22, issue 12), not yet run: run 86 measured -Darbor.cuda.prologueNorm slower at llama-7b
# batch 1 (device 4.132 -> 4.312 ms a step) with the o / down tail adding its 8 slabs one L2 load after another; branch norm22 since
# loads them at once (GemmKernels.addedSlabs, the same bits). This measures that build: the bit test first (GemmNormPrologueGpuTest,
# which runs matmulAddSlabs' new tail at llama-7b's shapes), then batch 1 (prompt 128, 256 new) in ONE JVM,
# `bench throughput --ab arbor.cuda.prologueNorm --ab-rounds 3` (false/true, true/false, false/true, each its own engine, tokens compared).
# Bundle (`bench/device/bundle.sh --lean` of branch norm22) + this script in /work/main's ignored .device/norm22b/, then:
#   bash .device/norm22b/norm22b-call.sh .device/norm22b   (carry [".device/norm22b"], timeout_s 120)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/norm22b-out}; mkdir -p $OUT
L=/tmp/norm22b; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((116 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|^CUDA graphs|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -E "^ab |^decode steps|opProfile|^ *[a-zA-Z].* µs|%" $L/$name.log | head -200 > $OUT/$name-key.txt 2>/dev/null; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmNormPrologueGpuTest
run ab 80 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 256 --ab arbor.cuda.prologueNorm --ab-rounds 3 --out $L/out
clocks
for f in $L/*.log; do grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $f > $OUT/$(basename $f); done
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
