#!/usr/bin/env bash
# Run 66-fuse17's device call (session 17): SwiGLU in the gate|up GEMM's epilogue on the interleaved gate|up weight
# (-Darbor.gemm.fusedSwiGlu, issue 12). GPU tests first (GemmSwiGluGpuTest: the fused h against the stacked composition at
# llama-7b's gate|up under both plans at 1-2048 tokens and every tile family at partial tiles; Bf16ProducersGpuTest's two
# fusedSwiGlu cases: logits on vs off, both modes; FusedForwardGpuTest: fused == unfused with the switch on by default),
# then on / off: llama-7b b1 (prompt 128, 256 out, two passes a JVM), the prefill row 8 x 2048 nbi, and, time left, seed
# workload 1 (default mode). Command limit 140 s. From the repo root on the GPU machine: bash .device/fuse17/fuse17-call.sh .device/fuse17
set -u
D=${1:-.device}
L=/tmp/fuse17; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
PF="throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
LIMIT=134
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - SECONDS)); [ $left -lt 8 ] && { echo "== $name skipped (${SECONDS}s)" >> $OUT/summary.txt; return; }
  [ $t -gt $left ] && t=$left; echo "== +${SECONDS}s $name (limit ${t}s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|swiglu epilogue|Bf16ProducersGpuTest|fused forward|^prefill:|^decode:|steps: |device ms/step|auto +[0-9]|rc=|FAIL|Exception|Error:" $L/$name.log | grep -v "^\s*at " | head -80; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 48 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmSwiGluGpuTest \
    dev.arbor.models.Bf16ProducersGpuTest#fusedSwiGluGivesTheSameLogitsBatchInvariant dev.arbor.models.Bf16ProducersGpuTest#fusedSwiGluGivesTheSameLogitsWithoutBatchInvariance \
    dev.arbor.models.FusedForwardGpuTest
run b1-on 24 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-off 24 $J -Darbor.gemm.fusedSwiGlu=false -cp $CP dev.arbor.server.Main bench $B1
run pf-on 26 $J -cp $CP dev.arbor.server.Main bench $PF
run pf-off 26 $J -Darbor.gemm.fusedSwiGlu=false -cp $CP dev.arbor.server.Main bench $PF
clocks
run w1-on 20 $J -cp $CP dev.arbor.server.Main bench $W1
run w1-off 20 $J -Darbor.gemm.fusedSwiGlu=false -cp $CP dev.arbor.server.Main bench $W1
clocks
echo "== end +${SECONDS}s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/timeline.txt; cat $L/clocks.txt; cat $OUT/summary.txt | head -150
