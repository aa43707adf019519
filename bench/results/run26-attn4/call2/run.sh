#!/usr/bin/env bash
# Run 26-attn4, call 2 (issue 11): the suffix grid of the own splits, fused merge up to 16 splits; GPU tests.
D=.dev-attn4
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > $OUT/gpu.txt 2>&1
s=$(date +%s)
timeout 90 $J -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 100 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED|MethodSource|lastGroup" $OUT/tests.log | head -20; grep -E "seqs|variants|F=|S M" $OUT/bench.log | head -80
