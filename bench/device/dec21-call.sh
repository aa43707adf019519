#!/usr/bin/env bash
# Run 80-dec21's device call (session 21): issue 11's decode table (32 x 128, bf16 paged KV, block 16; b1/b32/b128 x 512..32k)
# in four forms interleaved row by row in one JVM (-Dattn.pipeForms): DecodeKernels' plain rounds (off), the pipelined rounds under
# the launcher's rule (on: launches of <= 4 work-groups an SM's worth), pipelined at every size (all), and the rule with the fused
# merge loading 16 slots a round trip (onF16); then the GPU test PipelinedDecodeGpuTest (pipelined vs plain vs the two-launch path,
# bit for bit).
# The folder ($1) holds jre.tar.xz and lib/ (bench/device/bundle.sh --lean's .device, copied): bash dec21-call.sh .device/dec21
set -u
D=${1:-.device}
L=/tmp/dec21; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|Exception|Error|MethodSource|=>" $L/$name.log | head -150; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 92 $J -Dattn.decodeTable=true -Dattn.pipeForms=off,on,all,onF16 -cp $CP dev.arbor.kernels.bench.AttentionBench
run tests 45 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.PipelinedDecodeGpuTest
clocks
cp $L/timeline.txt $L/clocks.txt $OUT/ 2>/dev/null
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
