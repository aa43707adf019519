#!/usr/bin/env bash
# Run 87-rope22 (session 22, issue 12): -Darbor.cuda.qkvRopeEpilogue — the stacked q|k|v GEMM's last-arriving block of each head
# group adds the slabs, applies RoPE and stores q and the paged k / v rows itself (GemmKernels.xf32Wbf16QkvRope*), where the
# GEMM + qkvRopeStoreWide took two launches. The bit tests first (GemmQkvRopeGpuTest: llama-7b's q|k|v plans against the
# composition; QkvRopeEpilogueGpuTest: synthetic:100m logits on / off / on with the norm prologue; they also compile the kernels
# into the cache), then ONE JVM: `bench throughput --ab arbor.cuda.qkvRopeEpilogue` at llama-7b batch 1 (prompt 128, 256 new)
# false / true / true / false / false / true (3 rounds, each run its own engine, warm-up and CUDA graphs on the loaded model,
# tokens compared) and one -Darbor.opProfile pair of 16 tokens, then the same at batch 8 (-Darbor.cuda.qkvRopeEpilogueRows=8:
# the rows only matter at 2-8 tokens, batch 1 runs the same either way).
# The device tool copies /work/main, not a helper's worktree: this script and a `bundle.sh --lean` bundle of branch rope22
# (lib/, jre.tar.xz) go into an ignored folder there, .device/rope22/, and run:
#   bash .device/rope22/rope22-call.sh .device/rope22   (carry [".device/rope22"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/rope22-out}; mkdir -p $OUT
L=/tmp/rope22; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|^CUDA graphs|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 42 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmQkvRopeGpuTest dev.arbor.models.QkvRopeEpilogueGpuTest
run ab 96 $J -Darbor.cuda.qkvRopeEpilogueRows=8 -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1,8 --prompt-len 128 --output-len 256 --ab arbor.cuda.qkvRopeEpilogue --ab-rounds 3 --ab-profile --ab-profile-len 16 --out $L/out
clocks
for f in $L/*.log; do grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $f | head -c 200000 > $OUT/$(basename $f); done
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
