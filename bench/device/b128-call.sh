#!/usr/bin/env bash
# Run 66-b128's device call (session 17): the 1b b128 decode step's non-GEMM gaps from run 66-prof17 — the wide SwiGLU kernel
# (-Darbor.fused.siluWide) and the split greedy argmax (-Darbor.sampling.splitArgmax). GPU tests of both (bits / tokens against
# the kernels they replace), then the issue-12 row (llama3.2-1b, batch 128 × 512, 64 out) with both switches off / on in
# --no-batch-invariance and on / off in the default mode, one JVM each.
# From the repo root on the GPU machine: bash .device/b128/b128-call.sh .device/b128
set -u
D=${1:-.device}
L=/tmp/b128; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
OFF="-Darbor.fused.siluWide=false -Darbor.sampling.splitArgmax=false"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  { echo "== $name"; grep -E "^(SUCCESSFUL|FAILED|ABORTED) |tests (found|successful|failed)|^decode|^prefill:|CUDA graphs|copy|rc=|FAIL|Exception|Error" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  tar czf $OUT/logs.tgz -C $L . 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
    dev.arbor.kernels.layer.FusedKernelsGpuTest#siluWideKeepsTheOneElementKernelsBits dev.arbor.kernels.sampling.SplitArgmaxGpuTest
run 1b-nbi-off 27 $J $OFF -cp $CP dev.arbor.server.Main bench $B128 --no-batch-invariance --out $L/nbi-off
run 1b-nbi-on 27 $J -cp $CP dev.arbor.server.Main bench $B128 --no-batch-invariance --out $L/nbi-on
run 1b-on 27 $J -cp $CP dev.arbor.server.Main bench $B128 --out $L/on
run 1b-off 27 $J $OFF -cp $CP dev.arbor.server.Main bench $B128 --out $L/off
clocks
echo "== $(date -u +%T) done" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
