#!/usr/bin/env bash
# Run 64-dec16's device call (session 16): the split-row residual add + RMSNorm (FusedKernels.addRmsNormSplitRow) for batch-1
# decode (issue 12). GPU tests of what it touches (FusedKernelsGpuTest: the split-row kernel's bits against the strided loop and
# the one-group kernel; FusedForwardGpuTest: fused == unfused in bits through decode graphs of 3 tokens, which take the split
# rows), AddNormBench (the stage by its parts, norm / norm-split / stage / stage-split / nbi-stage at M 1-16), the engine's b1 rows
# (llama-7b, prompt 128, 256 out, two passes a JVM) with the switch on / off interleaved in both modes, the default-mode b1 step by
# kernel (ncu over the replayed graph, ncu-step-timeline.py), then GemmBench's engine table (M 1-64 at llama-7b's shapes) last.
# From the repo root on the GPU machine: bash .device/dec16/call.sh .device/dec16
set -u
D=${1:-.device}
L=/tmp/dec16; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^[0-9]+x[0-9]+ M=|^decode|device ms|tok/s|copy|rc=|FAIL|Exception|Error|µs|us " $L/$name.log | head -150; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 45 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.layer.FusedKernelsGpuTest dev.arbor.models.FusedForwardGpuTest
run addnorm 35 $J -cp $CP dev.arbor.kernels.bench.AddNormBench
run b1-on 28 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-off 24 $J -Darbor.cuda.splitNormRows=0 -cp $CP dev.arbor.server.Main bench $B1
run b1-nbi-slab 21 $J -Darbor.cuda.nbiSlabNormRows=8 -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance
run b1-nbi 21 $J -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance
clocks
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
run timeline-b1 35 $NCU --graph-profiling node --launch-skip 400 --launch-count 700 --cache-control none --clock-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file $L/ncu-b1.csv \
    $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
python3 "$D/ncu-step-timeline.py" $L/ncu-b1.csv > $L/step-timeline-b1.txt 2>&1; gzip -f $L/ncu-b1.csv
run gemm-engine 18 $J -cp $CP dev.arbor.kernels.bench.GemmBench engine
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/step-timeline-b1.txt $L/clocks.txt $OUT/ 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt | head -200
