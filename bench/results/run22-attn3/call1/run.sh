#!/usr/bin/env bash
# Run 22-attn3, call 1 (issue 11): decode merge depth / PDL, cascade ldmatrix, prefill row offsets a tile ahead; peers and GPU tests.
D=.dev-attn3
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > $OUT/gpu.txt 2>&1
s=$(date +%s)
timeout 60 $J -cp $CP dev.arbor.kernels.bench.AttentionBench > $OUT/bench.log 2>&1; echo "AttentionBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 25 $J -cp $CP dev.arbor.kernels.bench.FlashPrefillBench > $OUT/prefill.log 2>&1; echo "FlashPrefillBench rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
PYTHONUNBUFFERED=1 timeout 40 python3 $D/attention_torch.py > $OUT/torch.log 2>&1; echo "torch rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
s=$(date +%s)
timeout 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest \
  dev.arbor.kernels.attention.FlashPrefillGpuTest dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.FlashPrefillModelGpuTest > $OUT/tests.log 2>&1
echo "tests rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
cat $OUT/times.txt; tail -25 $OUT/tests.log; grep -E "decode|seqs|M=|noPDL" $OUT/bench.log | head -80
