#!/usr/bin/env bash
# Run 86-norm22 (session 22, issue 12): -Darbor.cuda.prologueNorm (o / down add their own slabs into the residual, the next
# projection — q|k|v, gate|up — computes the RMSNorm in its prologue) measured at llama-7b batch 1 (prompt 128, 256 new) and
# batch 8 (-Darbor.cuda.prologueNormRows=8), in ONE JVM: `bench throughput --ab arbor.cuda.prologueNorm` runs each batch with the
# switch false / true / true / false (each run its own engine, warm-up and CUDA graphs on the loaded model; the first run also
# compiles what the tests left), compares the runs' tokens, then one false / true pair of 16 tokens under -Darbor.opProfile=true
# (per-operation device times, eager). The bit tests GemmNormPrologueGpuTest + PrologueNormGpuTest run first (norm21's gate|up
# launch, fixed after run 82, never ran on the device; they also fill the driver's JIT cache with the prologue kernels).
# The device tool copies /work/main, not a helper's worktree: this script and a `bundle.sh --lean` bundle of branch norm22
# (lib/, jre.tar.xz) go into an ignored folder there, .device/norm22/, and run:
#   bash .device/norm22/norm22-call.sh .device/norm22   (carry [".device/norm22"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/norm22-out}; mkdir -p $OUT
L=/tmp/norm22; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|^CUDA graphs|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -E "^ab |^decode steps|opProfile|^ *[a-zA-Z].* µs|%" $L/$name.log | head -200 > $OUT/$name-key.txt 2>/dev/null; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmNormPrologueGpuTest dev.arbor.models.PrologueNormGpuTest
run ab 105 $J -Darbor.cuda.prologueNormRows=8 -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1,8 --prompt-len 128 --output-len 256 --ab arbor.cuda.prologueNorm --ab-rounds 2 --ab-profile --ab-profile-len 16 --out $L/out
clocks
for f in $L/*.log; do grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $f > $OUT/$(basename $f); done
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
