#!/usr/bin/env bash
# Run 69-casc18's second device call (60 s): the first call's test step was cut at its 36 s limit inside FlashHandoffGpuTest's last
# method (its ring and decode-step methods had passed) before InvariantFlashAttentionGpuTest ran. This call: InvariantFlashAttentionGpuTest
# (the engine's default-mode bits, the ring on by rule), then ncu on the two-stage shared pass alone (-Darbor.flash.sharedRing=false;
# FlashDecodeBench handoff, eager) at workload 2's decode shape (sharedBf16, grid (8, 32, 1)) and workload 1's (sharedHalfBf16, (2, 32, 2)):
# speed of light, occupancy, warp states, scheduler and compute sections, to see why the walk takes 3.5 µs a tile.
# From the repo root on the GPU machine:   bash .device/casc18/casc18-call2.sh .device/casc18
set -u
D=${1:-.device}
L=/tmp/casc18b; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
S="--section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats --section ComputeWorkloadAnalysis --section LaunchStats --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,smsp__inst_executed.sum"
run() { local name=$1 t=$2; shift 2; local left=$((57 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left; [ $t -lt 3 ] && { echo "== $name skipped" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (limit $t s)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "tests (found|successful|failed)|rc=|FAIL|Exception|expected|Duration|Throughput|Registers|Occupancy|Warp Cycles|Issued|Eligible|Stall|Pipe|Shared Memory|Block Limit|Executed Ipc|One or More|No Eligible|stalled|hmma|wavefronts|inst_executed" $L/$name.log | head -120; } >> $OUT/summary.txt; }
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.InvariantFlashAttentionGpuTest
run ncu-w2 14 $NCU -k regex:shared --launch-count 1 $S $J -Darbor.flash.sharedRing=false -cp $CP dev.arbor.kernels.bench.FlashDecodeBench handoff 500 790 752 1
run ncu-w1 13 $NCU -k regex:shared --launch-count 1 $S $J -Darbor.flash.sharedRing=false -cp $CP dev.arbor.kernels.bench.FlashDecodeBench handoff 107 560 528 1
cp $L/timeline.txt $OUT/ 2>/dev/null
cat $OUT/summary.txt
