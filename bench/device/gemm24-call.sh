#!/usr/bin/env bash
# Run 99-gemm24 (session 24): the default (batch-invariant) plan's sliced GEMM at seed workload 2's decode batch (434-500 tokens),
# three same-bits switches: balanced token tiles (-Darbor.gemm.slicedBalanced), the residual prefetched into the L2 by the producer's
# idle warps (-Darbor.gemm.residualPrefetch), the launch overlapping the kernel before (-Darbor.gemm.slicedOverlap); all three at once:
# -Darbor.gemm.sliced24. Steps: the GPU bit test (all three against the mma.sync slab plan at llama-7b's o / down / q|k|v, 300/434/500),
# GemmBench gemm24 (base / bal / pf / ov / all, twice, each arm's whole C compared with base's), seed workload 2 --ab arbor.gemm.sliced24,
# then ncu over o and down at 500 tokens (main's kernel, then with the prefetch).
#   bash .device/gemm24/gemm24-call.sh .device/gemm24   (carry [".device/gemm24"], timeout_s 160)
# Ran on the jars of commit edb14aac (all three switches); afterwards the prefetch and the overlap were dropped and the GPU test renamed
# GemmInvarianceGpuTest#balancedTokenTilesEqualTheMmaSyncSlabPlan, GemmBench gemm24 reduced to base / bal (bench/RESULTS.md run 99-gemm24).
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/gemm24-out}; mkdir -p $OUT
L=/tmp/gemm24; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-148}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^g24 |^A/B|decode steps|total s |rc=|Exception|Error|differ \(max [1-9]|tests (successful|failed|found)|FAILED|✘|copy|Duration|Throughput|Pipe|Stall|Warp Cycles|Eligible|Issued|Waves|Registers|ncu launches" $L/$name.log \
      | grep -v "^\s*at " | head -90; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 400000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 34 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#balancedTokenTilesResidualPrefetchAndOverlapEqualTheMmaSyncSlabPlan'
run bench 30 $J -cp $CP dev.arbor.kernels.bench.GemmBench gemm24
run w2-ab 62 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.gemm.sliced24 --out $L/w2
clocks
run ncu 30 $NCU -k regex:Sliced --cache-control none --clock-control none --section SpeedOfLight --section WarpStateStats \
  --section ComputeWorkloadAnalysis --section LaunchStats --section Occupancy $J -cp $CP dev.arbor.kernels.bench.GemmBench gemm24-ncu
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cp $L/w2/*.json $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 11000 $OUT/summary.txt
