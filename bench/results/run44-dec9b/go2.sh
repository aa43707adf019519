#!/usr/bin/env bash
# Run 44-dec9b's second call: loadTile's row offsets read before the copies (commit after 'FlashDecodeBench handoff'), measured
# and bit-checked. Bundle: accel, kernels, models jars and their test classes, junit, jre; carried as .dev-dec9b:
#   bash .dev-dec9b/go2.sh
set -u
D=.dev-dec9b
L=/tmp/dec9b-logs2; mkdir -p $L
T0=$(date +%s)
tar xJf $D/jre.tar.xz -C /tmp
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $1" | tee -a $L/timeline.txt; }
step decode-bench
timeout 12 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench > $L/decode-bench.log 2>&1; echo "rc=$?" >> $L/decode-bench.log
cp $L/decode-bench.log $OUT/
step kernel-tests
timeout 14 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest \
  dev.arbor.kernels.attention.FlashPrefillGpuTest > $L/tests-kernels.log 2>&1; echo "rc=$?" >> $L/tests-kernels.log
cp $L/tests-kernels.log $OUT/
step invariant-test
timeout $(( 38 - ($(date +%s) - T0) )) $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.InvariantFlashAttentionGpuTest > $L/tests-models.log 2>&1
echo "rc=$?" >> $L/tests-models.log; cp $L/tests-models.log $OUT/
step done; cp $L/timeline.txt $OUT/
