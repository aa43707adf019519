#!/usr/bin/env bash
# Run 90-final22 (session 22, lead): on the merged main — llama-7b batch 1 (prompt 128, 256 new) with -Darbor.cuda.prologueNorm
# off/on in one JVM (`bench throughput --ab`, two rounds: the default's b1 figure and norm22's slab-add tail fix), seed workload 2
# with -Darbor.flash.decodeHalfRing off/on in two JVMs, then GemmNormPrologueGpuTest.
#   bash bench/device/final22-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 230)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/final22-out}; mkdir -p $OUT
L=/tmp/final22; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-220}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^A/B|^decode:|^decode steps|total s |rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run b1-ab 75 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 256 --ab arbor.cuda.prologueNorm --ab-rounds 2 --out $L/b1
run ring-ab 48 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.decodeHalfRing --out $L/ring-ab
run ring-ab2 48 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.decodeHalfRing --out $L/ring-ab2
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmNormPrologueGpuTest
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 10000 $OUT/summary.txt
