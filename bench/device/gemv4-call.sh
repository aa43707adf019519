#!/usr/bin/env bash
# Run 26-gemv4 (issues 10 and 12, batch-1 decode), one device call, from the root of a checkout carrying the bundle of
# bench/device/bundle.sh --model tiny-llama3 --model tiny-baichuan2-13b as DIR (default .dev-gemv4) with this script and
# bench/peers/gemm_torch.py copied in. In order, each under its own timeout, clocks logged between:
#   1. GPU tests: GEMM (incl. invariance), fused kernels, fused forward pass, CUDA graphs (the GEMMs now launched
#      overlapping the kernel before them must give the same bits);
#   2. ncu, one node per kernel, of a llama-7b batch-1 run (prompt 128, 3 new tokens): per-kernel durations;
#   3. bench throughput --batch 1,1,1: default with and without -Darbor.gemm.pdl, and --no-batch-invariance;
#   4. GemmBench engine (llama-7b's stacked shapes, M 1-64, both plans, slices sweep, producer+GEMM overlap);
#   5. the cuBLAS peer on the same shapes.
set -u
D=${1:-.dev-gemv4}
tar xJf "$D/jre.tar.xz" -C /tmp; [ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --prompt-len 128"
clk() { echo "== $(date -u +%H:%M:%S) $1" >> $OUT/clocks.txt; nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_throttle_reasons.active --format=csv,noheader >> $OUT/clocks.txt 2>&1; }
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a $OUT/timeline.txt; }
nvidia-smi -q -d CLOCK > $OUT/clocks-q.txt 2>&1; clk start
step tests
timeout 70 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.models.FusedForwardGpuTest dev.arbor.models.CudaGraphGpuTest > $OUT/tests.log 2>&1; echo "tests rc=$?" | tee -a $OUT/timeline.txt
grep -E "found|successful|failed|FAIL|✘" $OUT/tests.log | head -20
clk after-tests
step ncu
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 80 $NCU --graph-profiling node --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --launch-count 2600 \
  $J -cp $CP $B --batch 1 --output-len 3 --out /tmp/ncu-tp > /tmp/ncu.csv 2> $OUT/ncu.err; echo "ncu rc=$?" | tee -a $OUT/timeline.txt
grep -c gpu__time_duration /tmp/ncu.csv; gzip -c /tmp/ncu.csv > $OUT/ncu.csv.gz; tail -3 $OUT/ncu.err
clk after-ncu
for v in "default" "gemmpdl-off -Darbor.gemm.pdl=false" "nbi --no-batch-invariance" ; do
  set -- $v; name=$1; shift; props=""; extra=""
  for a in "$@"; do case $a in -D*) props="$props $a" ;; *) extra="$extra $a" ;; esac; done
  step "throughput $name"
  timeout 35 $J $props -cp $CP $B --batch 1,1,1 --output-len 256 $extra --out /tmp/tp-$name >> $OUT/throughput.log 2>&1; echo "rc=$?" >> $OUT/throughput.log
  clk "after $name"
done
grep -E "^command|decode steps:|tok/s" $OUT/throughput.log | cut -c1-220
step gemmbench
timeout 75 $J -cp $CP dev.arbor.kernels.bench.GemmBench engine > $OUT/gemm-engine.txt 2>&1; echo "gemmbench rc=$?" | tee -a $OUT/timeline.txt
grep -v "^CSV" $OUT/gemm-engine.txt | grep -v "^variant" | cut -c1-230 | tail -60
clk after-gemmbench
step peer
PYTHONUNBUFFERED=1 timeout 40 python3 $D/gemm_torch.py $OUT/gemm-engine.txt > $OUT/gemm-peer.txt 2>&1; echo "peer rc=$?" | tee -a $OUT/timeline.txt
step done
