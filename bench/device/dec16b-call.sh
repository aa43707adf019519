#!/usr/bin/env bash
# Run 64-dec16b's device call (session 16, issue 12): one call, ≤ 100 s of command. The fused kernels before each b1 decode GEMM
# ask the L2 for its first weight bytes (-Darbor.cuda.l2PrefetchMiB: o, gate|up, down, q|k|v MiB a window). In order:
# GPU tests (FusedKernelsGpuTest's compositions with prefetches; L2PrefetchForwardGpuTest: on == off in bits through replayed
# decode graphs, both modes), the engine's b1 row (llama-7b, prompt 128, 256 out, default mode, one pass a JVM) off / the
# windows' fit / larger, then run 64-dec16's GemmBench l2 experiment (one window length) with what time is left.
# From the repo root on the GPU machine: bash .device/dec16b/call.sh .device/dec16b
set -u
D=${1:-.device}
L=/tmp/dec16b; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|kept the bits|device ms|tok/s|rc=|FAIL|Exception|Error|prefetch [0-9]/4|window alone|M=1 window" $L/$name.log | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run tests 17 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.layer.FusedKernelsGpuTest#fusedKernelsEqualTheirCompositions' dev.arbor.models.L2PrefetchForwardGpuTest
run b1-off 21 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-fit 21 $J -Darbor.cuda.l2PrefetchMiB=32,16,8,16 -cp $CP dev.arbor.server.Main bench $B1
run b1-big 21 $J -Darbor.cuda.l2PrefetchMiB=32,32,32,32 -cp $CP dev.arbor.server.Main bench $B1
clocks
LEFT=$(( 97 - ($(date +%s) - T0) )); [ $LEFT -gt 20 ] && LEFT=20
[ $LEFT -gt 3 ] && run l2 $LEFT $J -Dgemm.l2Windows=1500 -cp $CP dev.arbor.kernels.bench.GemmBench l2
clocks
echo "== end +$(( $(date +%s) - T0 ))s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt | head -120
