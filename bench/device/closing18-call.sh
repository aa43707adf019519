#!/usr/bin/env bash
# Session 18's closing call (run 70): attn18b's one-buffer decode pass first (FlashDecodeBench onebuffer: plain vs the one-buffer
# variants at workload 2/1 and llama3.2-1b b128 shapes, bits compared; FlashWarpOneBufferGpuTest), then closing-call.sh (rows, the A/B
# pass AB_OPTS/AB_RUNS, the GPU tests GPU_TESTS with the time left before DEADLINE). From the repo root on the GPU machine:
#   GPU_TESTS="..." AB_OPTS="..." AB_RUNS="..." DEADLINE=s RUNS="..." bash bench/device/closing18-call.sh .device
set -u
D=${1:-.device}
here="$(dirname "$0")"
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
start=$(date +%s)
timeout 16 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench onebuffer > $OUT/onebuffer-bench.log 2>&1; echo "rc=$?" >> $OUT/onebuffer-bench.log
timeout 42 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest \
    > $OUT/onebuffer-tests.log 2>&1; echo "rc=$?" >> $OUT/onebuffer-tests.log
used=$(( $(date +%s) - start ))
DEADLINE=$(( ${DEADLINE:-585} - used )) bash "$here/closing-call.sh" "$D"
echo "== onebuffer"; grep -vE "^\s+at |WARNING" $OUT/onebuffer-bench.log | tail -30
grep -E "tests (found|successful|failed)|rc=" $OUT/onebuffer-tests.log
