#!/usr/bin/env bash
# Run 39-gemv8 (one device call): the GPU tests of the kernels touched (with SMALL at 6 stages: -Darbor.gemm.smallStages, removed after the run), AddNormBench (the wide
# addRmsNormRows in the matmulAddNorm stage), GemmBench small (SMALL / MEDIUM ring depths, both plans, M <= 32), then llama-7b
# batch 1 (final-run.sh throughput-b1; the same with -Darbor.gemm.smallStages=6; throughput-b1-nbi; profile-b1) and ncu of
# the stage's kernels. Logs go to /tmp/gemv8, tarred into $OUT/gemv8-logs.tgz after every step (a cut-short call keeps them).
#   bash DIR/gemv8-call.sh DIR     (DIR = bench/device/bundle.sh --model tiny-llama3, with this script and final-run.sh)
set -u
D=${1:-.dev-gemv8}
tar xJf "$D/jre.tar.xz" -C /tmp; [ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=/tmp/gemv8; mkdir -p $L
FINAL_OUT=$OUT
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$L/timeline.txt"; }
save() { tar czf "$FINAL_OUT/gemv8-logs.tgz" -C /tmp gemv8; }
clk() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,clocks_throttle_reasons.active --format=csv,noheader >> "$L/clocks.txt" 2>&1; echo "  ($1)" >> "$L/clocks.txt"; }
clk start
step tests
timeout 40 $J -Darbor.gemm.smallStages=6 -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.kernels.gemm.GemmInvarianceGpuTest dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.models.FusedForwardGpuTest dev.arbor.models.CudaGraphGpuTest \
  > "$L/tests.log" 2>&1; echo "tests rc=$?" | tee -a "$L/timeline.txt"
grep -E "tests (found|successful|failed)|FAIL|✘" "$L/tests.log" | head -20; save
step addnorm
timeout 25 $J -cp $CP dev.arbor.kernels.bench.AddNormBench > "$L/addnorm.txt" 2>&1; echo "addnorm rc=$?" | tee -a "$L/timeline.txt"
grep -v "^CSV" "$L/addnorm.txt" | tail -11; save
step small
timeout 45 $J -cp $CP dev.arbor.kernels.bench.GemmBench small > "$L/small.txt" 2>&1; echo "small rc=$?" | tee -a "$L/timeline.txt"
grep -E "M=|copy|FAIL" "$L/small.txt" | cut -c1-400; clk after-small; save
step throughput-b1
OUT=$L RUNS="throughput-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; grep -E "tok/s|device" $L/run.log | cut -c1-220 | head -8; save
step b1-small6
timeout 40 $J -Darbor.gemm.smallStages=6 -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1,1,1 \
  --prompt-len 128 --output-len 256 --out /tmp/gemv8/b1-s6 > "$L/b1-s6.log" 2>&1; echo "b1-s6 rc=$?" | tee -a "$L/timeline.txt"
grep -E "tok/s|device" "$L/b1-s6.log" | cut -c1-220 | head -8; save
step nbi
OUT=$L RUNS="throughput-b1-nbi" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; save
step ncu
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 30 $NCU --set full -k regex:"xf32Wbf16|addRmsNorm" -c 4 -o /tmp/gemv8/addnorm $J -cp $CP dev.arbor.kernels.bench.AddNormBench ncu > "$L/ncu.log" 2>&1
$NCU -i /tmp/gemv8/addnorm.ncu-rep --page details > "$L/ncu-details.txt" 2>&1; rm -f /tmp/gemv8/addnorm.ncu-rep
grep -E "^  [a-zA-Z].*\(|Duration|DRAM Throughput|Achieved Occupancy|Registers Per" "$L/ncu-details.txt" | head -40; save
step profile-b1
OUT=$L RUNS="profile-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; grep -E "matmulAddNorm|decode" $L/run.log | cut -c1-200 | tail -8
clk end; step done; save
