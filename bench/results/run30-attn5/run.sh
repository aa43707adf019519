#!/usr/bin/env bash
# Run 30-attn5 (issue 11), call 2 adds the L2 prefetch of the own keys and GQA-4 launch bounds: the cascade's suffix + merge as one warp per (token, kv head), launched overlapping the shared
# level; per-part breakdown; Llama-3.2-1B decode rows; torch SDPA peer; GPU tests (attention, cascade through CudaOps).
D=.dev-attn5
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > $OUT/gpu.txt 2>&1
s=$(date +%s)
timeout 100 $J -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 110 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
ATTN_PEER_SKIP_PREFILL=1 PYTHONUNBUFFERED=1 timeout 40 python3 bench/peers/attention_torch.py > $OUT/torch.log 2>&1; echo "torch rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/gpu.txt 2>&1
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED|MethodSource|cascade vs paged" $OUT/tests.log | head -20; grep -E "seqs|suffix|variants|gqa4" $OUT/bench.log | head -80
