#!/usr/bin/env bash
# Run 98-dec24's device call (session 24): issue 11's decode table (32 x 128, bf16 paged KV, block 16; b1/b32/b128 x 512..32k) in
# six forms interleaved row by row in one JVM (-Dattn.pipeForms): onP = the launcher's default (run 80's pipelined rounds at one-wave
# launches + run 85's paired offsets, bounds 4 an SM); onPB the score sums by reduce-scatter (DecodeKernels.scatterSums, 9 shuffles a
# round instead of 16); onPWn an L2 prefetch n rounds ahead (DecodeKernels.prefetchRows; the first n rounds before the PDL wait);
# onPBW4 both. Then the GPU tests (PipelinedDecodeGpuTest: every form the plain loop's bits), then SASS of the prebuilt cubins
# (cuobjdump -sass), then ncu on one eager b1 x 4,096 step in onP, onPB and onPW4 if the time allows.
# Ran at commit ef572fe6 (branch dec24); the B and Wn forms were removed after it (slower or even, bench/RESULTS.md "Run 98-dec24").
# The folder ($1) holds jre.tar.xz, lib/ (bench/device/bundle.sh --lean's .device, copied) and cubins/:
#   bash .device/dec24/dec24-call.sh .device/dec24   (carry [".device/dec24"], timeout_s 165)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/dec24-out}; mkdir -p $OUT
L=/tmp/dec24; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-148}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|Exception|Error|MethodSource|=>|✘" $L/$name.log | grep -v "^\s*at " | head -150; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 300000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
FORMS=onP,onPB,onPW2,onPW4,onPW8,onPBW4
run bench 45 $J -Dattn.decodeTable=true -Dattn.pipeForms=$FORMS -cp $CP dev.arbor.kernels.bench.AttentionBench
clocks
run tests 50 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.PipelinedDecodeGpuTest
clocks
CUOBJ=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null | head -1)
if [ -n "$CUOBJ" ] && [ -d "$D/cubins" ]; then
  mkdir -p $OUT/sass
  for c in "$D"/cubins/*.cubin; do n=$(basename "$c" .cubin); timeout 10 $CUOBJ -sass "$c" > $OUT/sass/$n.sass 2>&1
    echo "sass $n: $(grep -cE '^\s+/\*[0-9a-f]{4}\*/' $OUT/sass/$n.sass) instructions, SHFL $(grep -c SHFL $OUT/sass/$n.sass), UBLKPF/prefetch $(grep -ciE 'UBLKPF|PREFETCH|CCTL' $OUT/sass/$n.sass)" >> $OUT/summary.txt; done
fi
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  run ncu 40 $NCU --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section LaunchStats --section Occupancy \
      --section MemoryWorkloadAnalysis --section InstructionStats -k regex:decode -c 3 --cache-control all -o $L/b1-4k \
      $J -Dattn.decodeTable=true -Dattn.profileOnly=true -Dattn.pipeForms=onP,onPB,onPW4 -cp $CP dev.arbor.kernels.bench.AttentionBench
  timeout 10 $NCU -i $L/b1-4k.ncu-rep --page details --print-details all > $L/ncu-details.txt 2>&1
  grep -E "^  [a-zA-Z].*\(|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Stall|Warp Cycles|Issued|Executed Ipc|Instructions" $L/ncu-details.txt | head -90 >> $OUT/summary.txt
  cp $L/ncu-details.txt $OUT/ 2>/dev/null
else
  echo "no ncu" >> $OUT/summary.txt
fi
clocks
cp $L/timeline.txt $L/clocks.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
