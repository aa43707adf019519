#!/usr/bin/env bash
# Run 93-gemv23 (session 23, issues 12 and 10): -Darbor.cuda.earlyTrigger — the batch-1 decode chain's kernels that let their
# successor launch only at their exit now let it in first thing: the fp32-X mma.sync GEMMs (q|k|v, o, gate|up SwiGLU, down)
# through their early-trigger twins (Gemm.earlyTrigger), and the split-form attention (FlashPrefillAttention.setSplitOverlap:
# launched overlapping qkvRopeStore, triggering first, then waiting), so o_proj's blocks stream their first W stages during
# the attention instead of after it. ONE JVM each:
#   1. `bench throughput --ab arbor.cuda.earlyTrigger` at llama-7b batch 1 (prompt 128, 256 new; 3 rounds false/true, each its
#      own engine, warm-up and CUDA graphs, tokens compared), then one -Darbor.opProfile pair of 16 tokens;
#   2. the GPU bit tests: GemmTriggerGpuTest (llama-7b's o → norm → gate|up → down chain, overlapping with the twins vs plain),
#      EarlyTriggerGpuTest (synthetic:100m logits off / on), FlashSplitGpuTest (the split kernel's new pdl argument, off);
#   3. GemmBench trigger: window kernel (32 × ~8 µs, 16 × ~3 µs) + M = 1 GEMM pairs, early trigger in neither / window / GEMM / both.
# The device tool copies /work/main, not a helper's worktree: this script and a `bundle.sh --lean` bundle of branch gemv23
# (lib/, jre.tar.xz) go into an ignored folder there, .device/gemv23/, and run:
#   bash .device/gemv23/gemv23-call.sh .device/gemv23   (carry [".device/gemv23"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/gemv23-out}; mkdir -p $OUT
L=/tmp/gemv23; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|^CUDA graphs|^llama-7b|GpuTest:|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -80; } >> $OUT/summary.txt
  cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run ab 82 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 256 --ab arbor.cuda.earlyTrigger --ab-rounds 3 --ab-profile --ab-profile-len 16 --out $L/out
clocks
run tests 36 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmTriggerGpuTest \
  dev.arbor.models.EarlyTriggerGpuTest dev.arbor.kernels.attention.FlashSplitGpuTest
run gemm 40 $J -cp $CP dev.arbor.kernels.bench.GemmBench trigger
clocks
for f in $L/*.log; do grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $f | head -c 200000 > $OUT/$(basename $f); done
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
