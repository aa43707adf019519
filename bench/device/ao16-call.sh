#!/usr/bin/env bash
# ao16's closing-call rows (session 16; issues 10, 12): the attention output in bf16 for o_proj (-Darbor.gemm.bf16AttentionOut,
# default on). Not run by ao16 (no device time left): for the lead's closing call, or to copy rows from.
# GPU tests: AttentionBf16OutGpuTest (each attention kernel's bf16-output twin against the fp32 kernel rounded, bit for bit),
# Bf16ProducersGpuTest (engine logits with the producers on / off and the attention's bf16 out on / off, both modes). Then the
# engine rows, this branch with the switch off and on, interleaved (off, on | on, off per mode): seed workload 1 default and
# nbi, llama3.2-1b b128 × 512 default and nbi, prefill 8 × 2048 nbi.
# From the repo root on the GPU machine: bash .device/ao16/call.sh .device/ao16   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/ao16; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
OFF="-Darbor.gemm.bf16AttentionOut=false"
ON="-Darbor.gemm.bf16AttentionOut=true"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
PF="throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|Bf16ProducersGpuTest|FAILED|tokens/s|tok/s|device|rc=|Exception|wall" $L/$name.log | cut -c1-300 | head -30; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests ${T_TESTS:-150} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionBf16OutGpuTest \
  dev.arbor.models.Bf16ProducersGpuTest
run w1-off 35 $J $OFF -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-off
run w1-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-on
run w1nbi-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/w1nbi-on
run w1nbi-off 35 $J $OFF -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/w1nbi-off
run 1b-off 25 $J $OFF -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-off
run 1b-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-on
run 1bnbi-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out /tmp/o/1bnbi-on
run 1bnbi-off 25 $J $OFF -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out /tmp/o/1bnbi-off
run pf-off 35 $J $OFF -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/pf-off
run pf-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/pf-on
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
