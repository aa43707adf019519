#!/usr/bin/env bash
# Run 35-gemv6 (one device call): the GPU tests of the fused GEMM + add + RMSNorm, AddNormBench (the matmulAddNorm stage
# by its parts, and fused), ncu --set full of the stage's kernels at M = 1 (o_proj 4096x4096), then final-run.sh's
# throughput-b1, throughput-b1-nbi and profile-b1, and main's jars (DIR/base: arbor-kernels, arbor-models) on throughput-b1.
#   bash DIR/gemv6-call.sh DIR     (DIR = bench/device/bundle.sh --model tiny-llama3, with this script, final-run.sh and base/)
# As run in run 35-gemv6 (jars of branch gemv6 at df76329): GemmAddNormGpuTest and the fused kernel it tested were
# removed afterwards (measured slower, bench/RESULTS.md run 35-gemv6), so the tests line names a class no longer in the tree.
set -u
D=${1:-.dev-gemv6}
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
BASE_CP=$(echo "$D"/base/*.jar "$D"/lib/*.jar | tr ' ' ':' | sed -E 's#[^:]*/lib/arbor-(kernels|models)-0.1.0-SNAPSHOT(-tests)?\.jar:##g')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$OUT/timeline.txt"; }
clk() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,clocks_throttle_reasons.active --format=csv,noheader >> "$OUT/clocks.txt" 2>&1; echo "  ($1)" >> "$OUT/clocks.txt"; }
clk start
step tests
timeout 80 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmAddNormGpuTest dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.models.FusedForwardGpuTest dev.arbor.models.CudaGraphGpuTest dev.arbor.engine.EngineGpuTest > "$OUT/tests.log" 2>&1; echo "tests rc=$?" | tee -a "$OUT/timeline.txt"
grep -E "tests (found|successful|failed)|FAIL|✘" "$OUT/tests.log" | head -20
step addnorm-bench
timeout 60 $J -cp $CP dev.arbor.kernels.bench.AddNormBench > "$OUT/addnorm.txt" 2>&1; echo "bench rc=$?" | tee -a "$OUT/timeline.txt"
grep -v "^CSV" "$OUT/addnorm.txt" | tail -14
clk after-bench
step ncu
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 70 $NCU --set full -k regex:"xf32Wbf16|msNorm" -c 10 -o /tmp/addnorm $J -cp $CP dev.arbor.kernels.bench.AddNormBench ncu > "$OUT/ncu.log" 2>&1; echo "ncu rc=$?" | tee -a "$OUT/timeline.txt"
$NCU -i /tmp/addnorm.ncu-rep --page details > "$OUT/ncu-details.txt" 2>&1
$NCU -i /tmp/addnorm.ncu-rep --page raw --csv --metrics gpu__time_duration.sum,dram__bytes_read.sum,smsp__average_warp_latency_issue_stalled_long_scoreboard,launch__grid_size > "$OUT/ncu-raw.csv" 2>&1
gzip -c /tmp/addnorm.ncu-rep > "$OUT/addnorm.ncu-rep.gz" 2>/dev/null
grep -E "^  [a-zA-Z].*\(|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per" "$OUT/ncu-details.txt" | head -80
step final-run
RUNS="throughput-b1 throughput-b1-nbi profile-b1" bash "$D/final-run.sh" "$D"
grep -E "decode|tok/s|matmulAddNorm|qkvRope|gateUp|attention|total" "$OUT/run.log" | cut -c1-200 | head -40
clk after-final
step base-b1
timeout 45 $J -cp $BASE_CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1,1,1 --prompt-len 128 --output-len 256 \
  --out /tmp/base-b1 > "$OUT/base-b1.log" 2>&1; echo "base rc=$?" | tee -a "$OUT/timeline.txt"
grep -E "decode|tok/s" "$OUT/base-b1.log" | cut -c1-200 | head -10
clk end
step done
