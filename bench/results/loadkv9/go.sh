#!/usr/bin/env bash
# loadkv9 (session 9): the 64-row kernel's loadKv with its row offsets read before its copies, measured against main's
# kernels jar (fea7e3f) and bit-checked. NOT RUN in session 9 (the device budget was below the lead's reserve); ready for a
# later call (~35 s of benches, then the attention GPU tests up to +80 s; trim the tests step to shorten it). Bundle: bench/device/bundle.sh (no fixtures), trimmed to the
# accel/kernels/models/engine jars and test classes, jackson/slf4j/fastutil, junit, the jre; main's kernels jar in base/;
# carried as .dev-loadkv9:   bash .dev-loadkv9/go.sh
# Every log goes straight into $OUT (at most 8 files come back): timeline.txt, decode-{before,after}.log,
# prefill-{before,after}.log, tests.log.
set -u
D=.dev-loadkv9
T0=$(date +%s)
tar xJf $D/jre.tar.xz -C /tmp
CP=$(echo $D/lib/*.jar | tr ' ' ':')
CPB=$(echo $D/lib/*.jar | tr ' ' '\n' | grep -v '/arbor-kernels-' | tr '\n' ':')$(echo $D/base/arbor-kernels-*.jar)
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $1" | tee -a $OUT/timeline.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $OUT/timeline.txt 2>&1
step decode-before
timeout 12 $J -cp $CPB dev.arbor.kernels.bench.FlashDecodeBench > $OUT/decode-before.log 2>&1; echo "rc=$?" >> $OUT/decode-before.log
step decode-after
timeout 12 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench > $OUT/decode-after.log 2>&1; echo "rc=$?" >> $OUT/decode-after.log
step prefill-before
timeout 12 $J -cp $CPB dev.arbor.kernels.bench.FlashPrefillBench > $OUT/prefill-before.log 2>&1; echo "rc=$?" >> $OUT/prefill-before.log
step prefill-after
timeout 12 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench > $OUT/prefill-after.log 2>&1; echo "rc=$?" >> $OUT/prefill-after.log
step gpu-tests
timeout $(( 80 - ($(date +%s) - T0) )) $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention \
  dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.FlashPrefillModelGpuTest > $OUT/tests.log 2>&1
echo "rc=$?" >> $OUT/tests.log
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $OUT/timeline.txt 2>&1
step done
