#!/usr/bin/env bash
# handoff's device call (run 39-handoff): GPU tests, then the default mode's seed workloads, the long-context b1 check
# (N = 0 against the default N = 2048 at a 1984-token prompt: every decode below the bound, one work-group per kv head),
# b1 decode, the op profile of workload 1. Logs to /tmp/logs, tarred into $OUT/logs.tgz after every run; run.log = all logs.
set -u
D=.dev-handoff
tar xJf $D/jre.tar.xz -C /tmp; export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="dev.arbor.server.Main bench"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
L=/tmp/logs; mkdir -p $L
r() { local n=$1 t=$2; shift 2; echo "== $(date -u +%T) $n: ${*##*dev.arbor.}" >> $L/timeline.txt; timeout $t "$@" > $L/$n.log 2>&1; echo "rc=$?" >> $L/$n.log;
  { echo "===== $n"; cat $L/$n.log; } >> $OUT/run.log; tar czf $OUT/logs.tgz -C /tmp logs; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,clocks.max.sm,clocks_throttle_reasons.active --format=csv > $L/gpu.txt 2>&1; cat $L/gpu.txt >> $OUT/run.log
r gpu-tests 90 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest \
   dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.kernels.attention.FlashPrefillGpuTest dev.arbor.models.CascadeForwardGpuTest
r workload2 45 $J -cp $CP $B $W2 --model $M --out $L/w2
r workload1 30 $J -cp $CP $B $W1 --model $M --out $L/w1
LC="throughput --model $M --device cuda --batch 1 --prompt-len 1984 --output-len 64"
r long-paged 25 $J -Darbor.cuda.flashBelow=0 -cp $CP $B $LC --out $L/long-paged
r long-flash 25 $J -cp $CP $B $LC --out $L/long-flash
r b1 25 $J -cp $CP $B throughput --model $M --device cuda --batch 1,1 --prompt-len 128 --output-len 256 --out $L/b1
r profile-w1 30 $J -Darbor.opProfile=true -cp $CP $B $W1 --model $M --out $L/prof-w1
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $L/gpu.txt 2>&1
echo "== $(date -u +%T) done" >> $L/timeline.txt; cat $L/timeline.txt >> $OUT/run.log; tar czf $OUT/logs.tgz -C /tmp logs
