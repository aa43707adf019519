#!/usr/bin/env bash
# run 30-gemv5, call 2: GPU tests of the norm kernels (slabs loaded together), then main (14104da, base/) and branch gemv5 jars
# alternately, same bundle otherwise: llama-7b b1 default, llama3.2-1b b128 nbi
set -u
D=.dev-gemv5
tar xJf $D/jre.tar.xz -C /tmp; tar xJf $D/fixtures.tar.xz -C /tmp
export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
CPB=$(ls $D/lib/*.jar | grep -v -e '/arbor-accel-0' -e '/arbor-kernels-0' -e '/arbor-models-0' -e '/arbor-engine-0' -e '/arbor-server-0' | tr '\n' ':')$(echo $D/base/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="bench throughput --model synthetic:llama-7b --device cuda --batch 1,1,1 --prompt-len 128 --output-len 256"
B128="bench throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
t() { echo "== $(date -u +%H:%M:%S) $1" >> $OUT/timeline.txt; }
t tests; timeout 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.LayerKernelsGpuTest dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.models.FusedForwardGpuTest dev.arbor.models.CudaGraphGpuTest > $OUT/tests.log 2>&1; echo "rc=$?" >> $OUT/tests.log
t base-b1; timeout 40 $J -cp $CPB dev.arbor.server.Main $B1 > $OUT/base-b1.log 2>&1
t new-b1; timeout 40 $J -cp $CP dev.arbor.server.Main $B1 > $OUT/new-b1.log 2>&1
t base-1b; timeout 30 $J -cp $CPB dev.arbor.server.Main $B128 > $OUT/base-1b.log 2>&1
t new-1b; timeout 30 $J -cp $CP dev.arbor.server.Main $B128 > $OUT/new-1b.log 2>&1
t done; nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/timeline.txt
grep -h -E "tests (found|successful|failed)|decode:|decode steps:" $OUT/*.log; cat $OUT/timeline.txt
