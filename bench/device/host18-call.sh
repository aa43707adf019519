#!/usr/bin/env bash
# Run 69-host18's device call (session 18, issue 12): asynchronous scheduling (-Darbor.engine.asyncScheduling; on by default on
# CUDA). GPU tests (TokenKernelsGpuTest: the feedTokens kernel's ids; AsyncSchedulingGpuTest: async == sync outputs call by call
# on tiny-llama3; EngineGpuTest: the engine on CUDA, async on by default; SplitArgmaxGpuTest and CudaGraphGpuTest: the sampler and
# the step events touched), then the issue-12 rows with the switch on / off, one JVM each: llama3.2-1b b128 × 512 nbi and default,
# seed workload 1 (default mode). Rows past the deadline (DEADLINE s of command, 122 by default) are skipped, not cut.
# From the repo root on the GPU machine: bash .device/host18/host18-call.sh .device/host18
set -u
D=${1:-.device}
L=/tmp/host18; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
OFF="-Darbor.engine.asyncScheduling=false"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
DEADLINE=${DEADLINE:-122}
run() { local name=$1 t=$2; shift 2
  if [ $((SECONDS + t)) -gt $DEADLINE ]; then echo "== $name skipped (at ${SECONDS}s, needs up to ${t}s)" >> $OUT/summary.txt; return; fi
  echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  { echo "== $name"; grep -E "^(SUCCESSFUL|FAILED|ABORTED|mode|auto) |tests (found|successful|failed)|^decode|^prefill|steps:|wall|seconds|tok/s|tokens/s|CUDA graphs|rc=|FAIL|Exception|Error" $L/$name.log | grep -v "^\s*at \|^  decode\|^floor\|^plot" | head -30; } >> $OUT/summary.txt
  tar czf $OUT/logs.tgz -C $L . 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 34 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.layer.TokenKernelsGpuTest \
    dev.arbor.engine.AsyncSchedulingGpuTest dev.arbor.engine.EngineGpuTest dev.arbor.kernels.sampling.SplitArgmaxGpuTest dev.arbor.models.CudaGraphGpuTest
run 1b-nbi-off 16 $J $OFF -cp $CP dev.arbor.server.Main bench $B128 --no-batch-invariance --out $L/nbi-off
run 1b-nbi-on 14 $J -cp $CP dev.arbor.server.Main bench $B128 --no-batch-invariance --out $L/nbi-on
run w1-on 24 $J -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1-on
run w1-off 24 $J $OFF -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1-off
run 1b-on 13 $J -cp $CP dev.arbor.server.Main bench $B128 --out $L/on
run 1b-off 13 $J $OFF -cp $CP dev.arbor.server.Main bench $B128 --out $L/off
clocks
echo "== $(date -u +%T) done at ${SECONDS}s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
