#!/usr/bin/env bash
# Run 92-dec23's device call (session 23): issue 11's decode table (32 x 128, bf16 paged KV, block 16; b1/b32/b128 x 512..32k) in
# six forms interleaved row by row in one JVM (-Dattn.pipeForms): onP = the launcher's default (run 80's pipelined rounds at one-wave
# launches + run 85's paired offsets, bounds 4 an SM); the split span (PagedAttention.splitSpan, DecodeKernels.decodeBf16Span):
# onP4x2 two adjacent splits a work-group, 2 rounds in flight; onP3x2d3 two splits, 3 rounds (166 registers, bounds 3); onP2x2d4 two
# splits, 4 rounds (206 registers, bounds 2); onP1x4d4 four splits, 4 rounds (128 work-groups at b1 x 4k); onP3x1d3 one split, 3 rounds.
# Then the GPU test (PipelinedDecodeGpuTest#splitSpansGiveThePlainLoopsBitsOnTheDevice: every span form the plain loop's bits), then
# ncu (--set full, PM sampling where this ncu has it) on one eager b1 x 4,096 step in onP, onP4x2 and onP2x2d4.
# The folder ($1) holds jre.tar.xz and lib/ (bench/device/bundle.sh --lean's .device, copied): bash dec23-call.sh .device/dec23
set -u
D=${1:-.device}
L=/tmp/dec23; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L --exclude='*.ncu-rep' .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|Exception|Error|MethodSource|=>" $L/$name.log | head -200; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
FORMS=onP,onP4x2,onP3x2d3,onP2x2d4,onP1x4d4,onP3x1d3
run bench 50 $J -Dattn.decodeTable=true -Dattn.pipeForms=$FORMS -cp $CP dev.arbor.kernels.bench.AttentionBench
clocks
run tests 45 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.attention.PipelinedDecodeGpuTest#splitSpansGiveThePlainLoopsBitsOnTheDevice'
clocks
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  $NCU --version > $L/ncu-version.txt 2>&1
  PM=""; $NCU --list-sections 2>/dev/null | grep -q PmSampling && PM="--section PmSampling"
  run ncu 40 $NCU --set full $PM -k regex:decode -c 3 --cache-control all -o $L/b1-4k $J -Dattn.decodeTable=true -Dattn.profileOnly=true \
      -Dattn.pipeForms=onP,onP4x2,onP2x2d4 -cp $CP dev.arbor.kernels.bench.AttentionBench
  timeout 15 $NCU -i $L/b1-4k.ncu-rep --page details --print-details all > $L/ncu-details.txt 2>&1
  timeout 10 $NCU -i $L/b1-4k.ncu-rep --page raw --csv --print-metric-instances values > $L/ncu-raw.csv 2>&1; gzip -f $L/ncu-raw.csv
  grep -E "^  [a-zA-Z].*\(|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Stall|Warp Cycles|Issued" $L/ncu-details.txt | head -80 >> $OUT/summary.txt
  cp $L/ncu-details.txt $L/ncu-raw.csv.gz $L/ncu-version.txt $OUT/ 2>/dev/null
else
  echo "no ncu" >> $OUT/summary.txt
fi
cp $L/timeline.txt $L/clocks.txt $OUT/ 2>/dev/null
tar czf $OUT/logs.tgz -C $L --exclude='*.ncu-rep' . 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; cat $OUT/summary.txt | head -150
