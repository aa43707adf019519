#!/usr/bin/env bash
# Run 26-attn4, call 1 (issue 11): decode with the merge fused into the split kernel (last-arriving work-group), cascade per-part
# breakdown, the torch SDPA decode peer; GPU tests (attention, cascade through CudaOps, accel conformance incl. lastGroupSum).
D=.dev-attn4
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > $OUT/gpu.txt 2>&1
s=$(date +%s)
timeout 90 $J -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
ATTN_PEER_SKIP_PREFILL=1 PYTHONUNBUFFERED=1 timeout 40 python3 $D/attention_torch.py > $OUT/torch.log 2>&1; echo "torch rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 100 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest dev.arbor.accel.GpuConformanceTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED|MethodSource|lastGroup" $OUT/tests.log | head -20; grep -E "decode|seqs|parts" $OUT/bench.log | head -120
