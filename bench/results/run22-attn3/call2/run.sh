#!/usr/bin/env bash
# Run 22-attn3, call 2 (issue 11): decode with 8-warp work-groups and merge depth 32; cascade threshold sweep; peers; GPU tests.
D=.dev-attn3
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
s=$(date +%s)
timeout 60 $J -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
ATTN_PEER_SKIP_PREFILL=1 PYTHONUNBUFFERED=1 timeout 30 python3 $D/attention_torch.py > $OUT/torch.log 2>&1; echo "torch rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED" $OUT/tests.log; grep -E "decode|seqs" $OUT/bench.log | head -90
