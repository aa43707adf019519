#!/usr/bin/env bash
# Run 35-attn7, call 2: the GPU tests on the final code (call 1's tests.log did not come back: one file over the run tool's count).
D=.dev-attn7
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
s=$(date +%s)
timeout 80 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" | tee -a $OUT/tests.log
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv | tee -a $OUT/tests.log
grep -E "tests (successful|failed|found)|FAILED|cascade vs paged|AssertionFailed|logit" $OUT/tests.log | head -20
