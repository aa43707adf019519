#!/usr/bin/env bash
# Run 74-dec20's device call (session 20): issue 11's decode table (32 x 128, bf16 paged KV, block 16; b1/b32/b128 x 512..32k)
# with DecodeKernels' global loads (the default form) and DecodeBulkKernels (K/V pages by 1-D bulk copies into an mbarrier ring:
# 2 stages x 4 warps, 1 stage x 8 warps) interleaved row by row in one JVM with that JVM's copy rate; GPU tests: AttentionGpuTest
# (every method, the new bulkCopiesGiveTheBitsOfTheGlobalLoadsOnTheDevice included).
# From the repo root on the GPU machine, with `bench/device/bundle.sh --lean`'s bundle: bash bench/device/dec20-call.sh .device
set -u
D=${1:-.device}
L=/tmp/dec20; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|Exception|Error|MethodSource|=>" $L/$name.log | head -150; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run bench 70 $J -Dattn.decodeTable=true -Dattn.bulkForms=2:4,1:8 -cp $CP dev.arbor.kernels.bench.AttentionBench
run tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest
clocks
cp $L/timeline.txt $L/clocks.txt $OUT/ 2>/dev/null
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt
