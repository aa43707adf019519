#!/usr/bin/env bash
# Run 43-dec9 (2026-12-01, H200, session 9): the one-warp short tiles and the graphed handoff decode steps, measured.
# From the repo root on the GPU machine, the bundle (bench/device/bundle.sh, no fixtures, trimmed) carried as .dev-dec9:
#   bash .dev-dec9/go.sh
# Order by importance; profile-w2 is skipped past 130 s. Back (8 files at most): decode-bench.log, tests.log, b32.log, timeline.txt,
# final-run.sh's run.log, final-out.tgz and final-out-prof.tgz, and everything in logs.tgz.
set -u
D=.dev-dec9
L=/tmp/dec9-logs; mkdir -p $L
T0=$(date +%s)
tar xJf $D/jre.tar.xz -C /tmp
export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
pack() { tar czf $OUT/logs.tgz -C /tmp dec9-logs $(cd /tmp && ls -d final-out* 2>/dev/null) 2>/dev/null; }
step() { echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $1" | tee -a $L/timeline.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt 2>&1; }
clocks
step decode-bench
timeout 50 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench > $L/decode-bench.log 2>&1; echo "rc=$?" >> $L/decode-bench.log
cp $L/decode-bench.log $OUT/; pack
step gpu-tests
timeout 100 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention dev.arbor.models.InvariantFlashAttentionGpuTest \
  dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.FlashPrefillModelGpuTest dev.arbor.models.CudaGraphGpuTest > $L/tests.log 2>&1
echo "rc=$?" >> $L/tests.log; cp $L/tests.log $OUT/; pack
step "workload2 workload1"
RUNS="workload2 workload1" bash bench/device/final-run.sh $D > /dev/null 2>&1; pack
step b32
timeout 45 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 32 --prompt-len 128 --output-len 256 \
  --out $L/tp-b32 > $L/b32.log 2>&1; echo "rc=$?" >> $L/b32.log; cp $L/b32.log $OUT/; pack
if [ $(( $(date +%s) - T0 )) -lt 130 ]; then
  step profile-w2
  TAG=prof RUNS="profile-w2" bash bench/device/final-run.sh $D > /dev/null 2>&1
  pack
else step "profile-w2 skipped (time)"; fi
clocks
step done; cp $L/timeline.txt $OUT/; pack
