#!/usr/bin/env bash
# Run 93b-gemv23 (run by the lead; the held-tiles form it A-Bs measured +8.3% and was removed after): the two parts run 93
# could not measure apart, in ONE JVM each:
#   1. `bench throughput --ab arbor.flash.splitOverlap` at llama-7b batch 1 (the split attention launched overlapping qkvRopeStore
#      and letting o_proj in first thing; GemmBench trigger predicts ~3 µs a layer, ~0.09 ms a step);
#   2. with splitOverlap on, `--ab arbor.gemm.heldTiles` (2 more W tiles a block held in registers before the decode GEMVs wait);
#   3. the held form's GPU bit test (GemmHeldGpuTest) and GemmBench trigger (now with a "window early + 2 held" column).
# Bundle: `bench/device/bundle.sh --lean` of branch gemv23 into .device/gemv23b/ (lib/, jre.tar.xz), then
#   bash .device/gemv23b/gemv23b-call.sh .device/gemv23b   (carry [".device/gemv23b"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/gemv23b-out}; mkdir -p $OUT
L=/tmp/gemv23b; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode steps|^CUDA graphs|^llama-7b|GpuTest:|rc=|Exception|Error|differ|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -80; } >> $OUT/summary.txt
  cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run ab-split 50 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 256 --ab arbor.flash.splitOverlap --ab-rounds 3 --out $L/out
run ab-held 40 $J -Darbor.flash.splitOverlap=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 256 --ab arbor.gemm.heldTiles --ab-rounds 3 --out $L/out
run tests 25 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmHeldGpuTest
run gemm 30 $J -Dgemm.triggerWindows=32x2000 -cp $CP dev.arbor.kernels.bench.GemmBench trigger
clocks
for f in $L/*.log; do grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $f | head -c 200000 > $OUT/$(basename $f); done
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
