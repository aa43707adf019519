#!/usr/bin/env bash
# invattn's one device call: GPU tests beside the two long-context b1 checks, then workload 2, workload 1, b1 (default mode)
set -u
D=.dev-invattn
tar xJf $D/jre.tar.xz -C /tmp; export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
r() { local n=$1 t=$2; shift 2; echo "== $(date -u +%T) $n: ${*##*dev.arbor.}" >> $OUT/timeline.txt; timeout $t "$@" > $OUT/$n.log 2>&1; echo "rc=$?" >> $OUT/$n.log; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv > $OUT/gpu.txt 2>&1
r gpu-tests 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.InvariantFlashAttentionGpuTest \
   dev.arbor.models.FlashPrefillModelGpuTest dev.arbor.kernels.attention.FlashPrefillGpuTest &
TP=$!
L="throughput --model $M --device cuda --batch 1 --prompt-len 4096 --output-len 64 --gpu-memory-utilization 0.7"
r long-paged 25 $J -Darbor.cuda.flashBelow=0 -cp $CP dev.arbor.server.Main bench $L --out $OUT/long-paged
r long-flash 25 $J -Darbor.cuda.flashBelow=1000000000 -cp $CP dev.arbor.server.Main bench $L --out $OUT/long-flash
wait $TP
r workload2 40 $J -cp $CP dev.arbor.server.Main bench $W2 --model $M --out $OUT/w2
r workload1 25 $J -cp $CP dev.arbor.server.Main bench $W1 --model $M --out $OUT/w1
r b1 25 $J -cp $CP dev.arbor.server.Main bench throughput --model $M --device cuda --batch 1,1 --prompt-len 128 --output-len 256 --out $OUT/b1
echo "== $(date -u +%T) done" >> $OUT/timeline.txt
