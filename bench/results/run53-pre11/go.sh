#!/usr/bin/env bash
# Run 53-pre11 (session 11): the nbi prefill/mixed steps' cascade groups as the state handoff (CudaOps.nbiHandoff) — the GPU
# tests it touches, seed workload 2 with --no-batch-invariance after, the op profiles of workload 2 (both modes) and of
# prefill 8 x 2048 (nbi), the nbi workload 2 with main's CudaOps (before), workload 2 at --max-num-batched-tokens
# 4096, workload 1 nbi. From the repo root: bash bench/results/run53-pre11/go.sh .dev-pre11   (logs: $OUT/logs.tgz, summary $OUT/summary.txt)
set -u
D=${1:-.dev-pre11}
L=/tmp/pre11; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPB=$(echo "$CP" | sed "s#$D/lib/arbor-models-0.1.0-SNAPSHOT.jar#$D/before/arbor-models-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model $M"
PF="throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: ${*##*Main }" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  echo "== $name"; grep -E "tests (found|successful|failed)|logit diff|logit difference|auto total s|device ms/step|prefill.*tok/s|op profile|^  [a-zA-Z|+ ].*[0-9]%$|rc=" $L/$name.log | grep -v "^  op " | head -60; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.FlashPrefillModelGpuTest
run w2-nbi 40 $J -cp $CP dev.arbor.server.Main bench $W2 --no-batch-invariance --out /tmp/o/w2-nbi
run prof-w2-nbi 40 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --no-batch-invariance --out /tmp/o/pw2n
run prof-w2 40 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/pw2
run prof-pf-nbi 45 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/ppf
run w2-nbi-before 40 $J -cp $CPB dev.arbor.server.Main bench $W2 --no-batch-invariance --out /tmp/o/w2-nbi-b
run w2-4096 40 $J -cp $CP dev.arbor.server.Main bench $W2 --max-num-batched-tokens 4096 --out /tmp/o/w2-4096
run w1-nbi 35 $J -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/w1-nbi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L .
