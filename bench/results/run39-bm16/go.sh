#!/usr/bin/env bash
# Run 39-bm16 (session 8): the batch-invariant mode's tensor-core attention with 16-row tiles for decodes. From the repo
# root on the GPU machine, bundle in .dev-bm16 (bench/device/bundle.sh, non-lean, no fixtures, with this script and
# bench/device/final-run.sh copied in: the call carries /work/main's tree, not this branch's). $OUT gets run.log,
# tests.log, decode-bench.log and the final-run.sh report archives. Ran on branch bm16 at 53138d2 (the one-warp tiles,
# FlashPrefillGpuTest.aRowsBitsAreTheSameInBothHeights and FlashDecodeBench's three columns; reverted after the run).
set -u
D=.dev-bm16
tar xJf $D/jre.tar.xz -C /tmp
export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu --format=csv > $OUT/clocks.txt 2>&1
echo "== $(date -u +%H:%M:%S) tests" >> $OUT/clocks.txt
timeout 100 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashPrefillGpuTest \
  dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.FlashPrefillModelGpuTest > $OUT/tests.log 2>&1; echo "rc=$?" >> $OUT/tests.log
echo "== $(date -u +%H:%M:%S) decode bench" >> $OUT/clocks.txt
timeout 40 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench > $OUT/decode-bench.log 2>&1; echo "rc=$?" >> $OUT/decode-bench.log
echo "== $(date -u +%H:%M:%S) engine, flashBelow 10^9" >> $OUT/clocks.txt
JOPTS=-Darbor.cuda.flashBelow=1000000000 TAG=n1e9 RUNS="throughput workload1 workload2 throughput-b1-4k" bash $D/final-run.sh $D
echo "== $(date -u +%H:%M:%S) engine, flashBelow 0" >> $OUT/clocks.txt
JOPTS=-Darbor.cuda.flashBelow=0 TAG=n0 RUNS="throughput-b1-4k" bash $D/final-run.sh $D
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $OUT/clocks.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $OUT/clocks.txt
