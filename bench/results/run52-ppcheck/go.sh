#!/usr/bin/env bash
# Run 52-ppcheck (session 10, lead): the ping-pong rule from 1,024 tokens (ee86c34) — the GEMM GPU tests, then seed workload 2
# and workload 1 with --no-batch-invariance (the rule's default), twice each. From the repo root: bash bench/results/run52-ppcheck/go.sh .device
set -u
D=${1:-.device}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W="--groups 1 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > $OUT/clocks.txt
timeout 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmPingPongGpuTest > $OUT/tests.log 2>&1; echo "rc=$?" >> $OUT/tests.log
for i in 1 2; do
  echo "== $(date -u +%T) w2-nbi $i" >> $OUT/w.log
  timeout 45 $J -cp $CP dev.arbor.server.Main bench shared-prefix --prompts-per-group 500 --prefix-len 752 --suffix-len 28 $W --out /tmp/w2-$i >> $OUT/w.log 2>&1; echo "rc=$?" >> $OUT/w.log
  echo "== $(date -u +%T) w1-nbi $i" >> $OUT/w.log
  timeout 35 $J -cp $CP dev.arbor.server.Main bench shared-prefix --prompts-per-group 107 --prefix-len 530 --suffix-len 20 $W --out /tmp/w1-$i >> $OUT/w.log 2>&1; echo "rc=$?" >> $OUT/w.log
done
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $OUT/clocks.txt
grep -E "tests (found|successful|failed)" $OUT/tests.log; grep -E "^== |auto total s|auto decode device|auto prefill/mixed device" $OUT/w.log
