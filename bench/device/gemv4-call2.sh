#!/usr/bin/env bash
# Run 27-gemv4: the chunked RMSNorm loads on the GPU, same bundle layout as gemv4-call.sh (DIR, default .dev-gemv4):
# GPU tests (layer + fused kernels, fused forward pass == unfused, graphs == eager), bench throughput --batch 1,1,1 default
# and --no-batch-invariance, then ncu of 20 norm kernels of a llama-7b batch-1 run.
set -u
D=${1:-.dev-gemv4}
tar xJf "$D/jre.tar.xz" -C /tmp; [ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --prompt-len 128"
clk() { echo "== $(date -u +%H:%M:%S) $1" >> $OUT/clocks.txt; nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_throttle_reasons.active --format=csv,noheader >> $OUT/clocks.txt 2>&1; }
clk start
timeout 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.LayerKernelsGpuTest dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.models.FusedForwardGpuTest dev.arbor.models.CudaGraphGpuTest > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "tests (found|successful|failed)|FAILED" $OUT/tests.log | head -12
clk after-tests
for v in "default" "nbi --no-batch-invariance"; do
  set -- $v; name=$1; shift
  timeout 35 $J -cp $CP $B --batch 1,1,1 --output-len 256 "$@" --out /tmp/tp-$name >> $OUT/throughput.log 2>&1; echo "rc=$?" >> $OUT/throughput.log
  clk "after $name"
done
grep -E "^command|decode steps:" $OUT/throughput.log | cut -c1-250
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 40 $NCU --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --kernel-name regex:msNorm --launch-skip 100 --launch-count 20 \
  $J -cp $CP $B --batch 1 --output-len 3 --out /tmp/ncu-tp > $OUT/ncu-norm.txt 2>&1; echo "ncu rc=$?"
grep '^"' $OUT/ncu-norm.txt | cut -d, -f5,8,9,15- | head -24
