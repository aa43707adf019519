#!/usr/bin/env bash
# Run 57-pfa12's one device call (session 12): the 64-row tensor-core attention kernels (one-pass and the handoff's shared pass)
# with Q staged in a K/V stage, their store indices recomputed after the walk and launch bounds of 3 work-groups an SM. The GPU
# bit tests of the kernels touched, FlashPrefillBench with main's kernels jar (.device/main-lib, commit 41571b3: "old") and this
# branch's ("new"; then "new0" with -Dflash.tallMinBlocks=0: the new layout without the bounds), and the engine rows: seed
# workload 2 default (new, old interleaved), prefill 8 x 2048 nbi, workload 2 nbi, workload 1, then torch SDPA's prefill peer.
# From the repo root on the GPU machine: bash bench/device/pfa12-call.sh .device   (logs: $OUT/logs.tgz, summary $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/pfa12; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPO=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model $M"
PF="throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: ${*##*Main }" | sed "s#-cp [^ ]*#-cp CP#" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|flash prefill|handoff |resources|CUDA-core|auto total s|device ms/step|tok/s|SDPA|flash|rc=" $L/$name.log | head -40; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest \
    dev.arbor.kernels.attention.FlashPrefillGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest
run bench-old 30 $J -cp $CPO dev.arbor.kernels.bench.FlashPrefillBench
run bench-new 30 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench
run w2-new 40 $J -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2
run w2-old 40 $J -cp $CPO dev.arbor.server.Main bench $W2 --out /tmp/o/w2-old
run pf-nbi 40 $J -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/pf-nbi
run w2-nbi 40 $J -cp $CP dev.arbor.server.Main bench $W2 --no-batch-invariance --out /tmp/o/w2-nbi
run w1 30 $J -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1
run bench-new0 30 $J -Dflash.tallMinBlocks=0 -cp $CP dev.arbor.kernels.bench.FlashPrefillBench
run peer 40 python3 bench/peers/attention_torch.py prefill
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $OUT/summary.txt
