#!/usr/bin/env bash
# Run 51-ppcheck (session 10, lead): is the nbi workload 2 decode step's regression in the closing run 50 (device 19.03 ->
# 20.87 ms a step) the ping-pong rule at 257-511 tokens? GemmBench pp-rule at 300/434/500/512 tokens, then seed workload 2
# with --no-batch-invariance, -Darbor.gemm.pingPong=false / true interleaved twice. From the repo root: bash bench/results/run51-ppcheck/go.sh .device
set -u
D=${1:-.device}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > $OUT/clocks.txt
echo "== $(date -u +%T) GemmBench pp-rule -Dgemm.ppM=300,434,500,512" > $OUT/gemm.log
timeout 75 $J -Dgemm.ppM=300,434,500,512 -cp $CP dev.arbor.kernels.bench.GemmBench pp-rule >> $OUT/gemm.log 2>&1; echo "rc=$?" >> $OUT/gemm.log
for pp in false true false true; do
  echo "== $(date -u +%T) w2-nbi pingPong=$pp" >> $OUT/w2.log
  timeout 45 $J -Darbor.gemm.pingPong=$pp -cp $CP dev.arbor.server.Main bench $W2 --out /tmp/w2-$pp >> $OUT/w2.log 2>&1; echo "rc=$?" >> $OUT/w2.log
done
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $OUT/clocks.txt
grep -E "^rule|^== |auto total s|auto decode device|auto prefill/mixed device" $OUT/gemm.log $OUT/w2.log
