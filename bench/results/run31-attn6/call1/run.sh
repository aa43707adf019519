#!/usr/bin/env bash
# Run 31-attn6 (issue 11): the cascade warp suffix's own keys staged in shared memory by cp.async (S = 0/16/32/48/64 keys a
# split, same call), cascade rows with floor and paged columns; GPU tests (attention, cascade through CudaOps).
D=.dev-attn6
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > $OUT/gpu.txt 2>&1
s=$(date +%s)
timeout 60 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/gpu.txt 2>&1
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED|MethodSource|cascade vs paged|AssertionFailed" $OUT/tests.log | head -20; grep -E "seqs|suffix|variants|staged" $OUT/bench.log | head -80
