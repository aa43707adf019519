#!/usr/bin/env bash
# Run 85-dec22's device call (session 22): issue 11's decode table (32 x 128, bf16 paged KV, block 16; b1/b32/b128 x 512..32k) in
# eight forms interleaved row by row in one JVM (-Dattn.pipeForms): the launcher's default (on: run 80's pipelined rounds at one-wave
# launches, bounds of 4 work-groups an SM), and its variants: P paired row offsets (both block-table loads of a work-item before
# either is used), S skewed rounds (next K before the scores, next V before the update), a digit the launch bounds (5 an SM: 96
# registers, room for the next grid's index chain), F16 the fused merge loading 16 slots a round trip; then the GPU test
# PipelinedDecodeGpuTest (every form bit for bit against the plain loop and the two-launch path).
# The folder ($1) holds jre.tar.xz and lib/ (bench/device/bundle.sh --lean's .device, copied): bash dec22-call.sh .device/dec22
set -u
D=${1:-.device}
L=/tmp/dec22; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|Exception|Error|MethodSource|=>" $L/$name.log | head -200; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 80 $J -Dattn.decodeTable=true -Dattn.pipeForms=on,onP,onS,on5,onP5,onSP5,onPF16,onP5F16 -cp $CP dev.arbor.kernels.bench.AttentionBench
clocks
run tests 55 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.PipelinedDecodeGpuTest
clocks
cp $L/timeline.txt $L/clocks.txt $OUT/ 2>/dev/null
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
