#!/usr/bin/env bash
# Run 57-ores12's one device call: GemmBench residual (the engine's residual-adding stage, o and down of llama-7b, taken apart
# in both plans at 107 / 1852 / 16384 tokens; then the residual epilogue by tile, C = against C +=) with this branch's jars,
# the epilogue part again with main's kernels jar first on the class path (.device/main-lib: the "before"), the GPU bit tests
# of the epilogue, and, with the time left, one nbi 2048-token prefill's op profile. From the repo root on the GPU machine:
#   bash bench/device/ores12-call.sh DIR      (DIR = the bundle of bench/device/bundle.sh, no fixtures)
set -u
D=${1:-.device}
L=/tmp/ores12; mkdir -p $L
START=$(date +%s); LIMIT=${LIMIT:-125}   # seconds this script may take in all; each step gets at most what is left
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
MAINCP=$(echo "$D"/main-lib/*.jar | tr ' ' ':'):$CP
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { local name=$1 t=$2; shift 2; local left=$(( LIMIT - ($(date +%s) - START) - 3 )); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $(date -u +%H:%M:%S) $name skipped (no time left)" >> $L/timeline.txt; return; }
  echo "== $(date -u +%H:%M:%S) $name (limit $t s)" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/ores12-logs.tgz -C /tmp ores12; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step bench-after 45 $J -cp $CP dev.arbor.kernels.bench.GemmBench residual
pack
step epilogue-before 22 $J -Dgemm.epilogueOnly=true -cp $MAINCP dev.arbor.kernels.bench.GemmBench residual
pack
step gpu-tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmResidualGpuTest \
    dev.arbor.kernels.gemm.GemmInvarianceGpuTest dev.arbor.kernels.gemm.GemmGpuTest
pack
step profile-prefill-nbi 40 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
    --batch 1 --prompt-len 2048 --output-len 2 --no-batch-invariance --out $L/prof-pf
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h '^stage\|^epilogue\|FAILED\|tests successful\|tests failed\|tests found\|differ from' $L/*.log | head -80
