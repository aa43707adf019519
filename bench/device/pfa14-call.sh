#!/usr/bin/env bash
# Run 59-pfa14's device call (session 14): the one-pass prefill kernel's long-chunk form (FlashPrefillKernels.longBf16/F16).
# FlashPrefillBench with main's kernels jar (.device/main-lib, 2e43317: "main") and this branch's ("new"), interleaved; the GPU
# bit tests (long form == one pass; handoff == one pass; batch invariance); torch SDPA's prefill peer; the engine rows
# prefill 8 x 2048 nbi (new, main) and seed workload 2 default (new). Priority order: whatever the limit cuts is last.
# From the repo root on the GPU machine: bash bench/device/pfa14-call.sh .device/pfa14   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/pfa14; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
[ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPO=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model $M"
PF="throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: ${*##*Main }" | sed "s#-cp [^ ]*#-cp CP#" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|bit for bit|flash prefill|handoff |resources|CUDA-core|auto total s|device ms/step|tok/s|SDPA|flash|FAIL|rc=" $L/$name.log | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench-main 30 $J -cp $CPO dev.arbor.kernels.bench.FlashPrefillBench
run bench-new 30 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench
run tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashPrefillGpuTest \
    dev.arbor.kernels.attention.FlashHandoffGpuTest dev.arbor.models.FlashPrefillModelGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest
clocks
run peer 30 python3 bench/peers/attention_torch.py prefill
run bench-main2 30 $J -cp $CPO dev.arbor.kernels.bench.FlashPrefillBench
run bench-new2 30 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench
run pf-nbi-new 45 $J -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/pf-nbi
run pf-nbi-main 45 $J -cp $CPO dev.arbor.server.Main bench $PF --out /tmp/o/pf-nbi-main
run w2-new 50 $J -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt >> $OUT/summary.txt
cat $OUT/summary.txt
