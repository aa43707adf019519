#!/usr/bin/env bash
# Run 59-host14's device call (session 14, issue 12): -Darbor.cuda.stagedInputs (the step's token inputs, cos/sin and the
# sampler's per-row inputs from page-locked staging, one 2D copy each) — GPU tests with it on, then the engine rows with it
# off (baseline: the same jars) and on, interleaved. From the repo root on the GPU machine: bash <this> DIR (the bundle).
set -u
D=${1:-.device}
L=$OUT; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
ON=-Darbor.cuda.stagedInputs=true
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model $M"
B1="throughput --model $M --device cuda --batch 1 --prompt-len 128 --output-len 256"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  { echo "== $name"; grep -E "tests (found|successful|failed)|auto total s|decode|schedule|upload|launch|update|tok/s|rc=" $L/$name.log | head -24; } >> $L/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > $L/clocks.txt
run tests 40 $J $ON -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.accel.cuda.PinnedStagingGpuTest \
    dev.arbor.models.StagedInputsGpuTest dev.arbor.engine.EngineGpuTest dev.arbor.models.CudaGraphGpuTest dev.arbor.kernels.sampling.SamplingKernelsGpuTest
run w1-off 25 $J -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-off
run w1-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-on
run b128-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B128 --out /tmp/o/b128-on
run b128-off 25 $J -cp $CP dev.arbor.server.Main bench $B128 --out /tmp/o/b128-off
run w2-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-on
run w2-off 35 $J -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/o/w2-off
run b1-off 25 $J -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/b1-off
run b1-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/b1-on
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $L/clocks.txt
cat $L/summary.txt | cut -c1-200 | tail -c 11000
