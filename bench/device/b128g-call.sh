#!/usr/bin/env bash
# Run 94-b128g (session 23): the default (--no-batch-invariance) plan at 65-256 tokens retuned from a sweep, and q|k|v's split-K
# zeroing moved into the norm before it. ZeroInNormGpuTest; GemmBench b128g times every tile form x K slices (fp32 atomics into
# C, zeroed first when stored, or unsplit) and the deep / ping-pong forms at llama3.2-1b's q|k|v, o, gate|up (SwiGLU epilogue),
# down and lm_head at 128 tokens (bf16 X, C as the engine writes it, W rotated past the L2, graph replays), re-times the fastest
# against the plan (plan/best/plan/best) and prints "TUNED NxKxM=tiles/slices" where >= 2% faster. Those entries become
# -Darbor.gemm.midTunedTable for llama3.2-1b b128 x 512 nbi, A/B'd with --ab arbor.gemm.midTuned in one JVM (tokens compared);
# then --ab arbor.gemm.zeroInNorm; then (time left) the sweep at llama-7b's products at 128 and 256 tokens.
#   bash .device/b128g/b128g-call.sh .device/b128g   (carry [".device/b128g"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/b128g-out}; mkdir -p $OUT
L=/tmp/b128g; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-145}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^b128g |^TUNED |^ab |^decode:|^decode steps|GpuTest:|tests (successful|failed|found)|rc=|Exception|Error|FAILED|differ" $L/$name.log | grep -v "^\s*at " | head -90; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
table() { grep -h "^TUNED " "$@" 2>/dev/null | sed 's/^TUNED //' | paste -sd, -; }
clocks
run tests 25 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.ZeroInNormGpuTest
run sweep-1b 50 $J -Dgemm.b128gShapes=1b -Dgemm.b128gM=128 -cp $CP dev.arbor.kernels.bench.GemmBench b128g
T1B=$(table $L/sweep-1b.log); echo "table 1b: $T1B" | tee -a $OUT/summary.txt
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
ZT="-Darbor.gemm.midTuned=false"
if [ -n "$T1B" ]; then
  run b128-ab 34 $J -Darbor.gemm.midTunedTable=$T1B -cp $CP dev.arbor.server.Main bench $B128 --ab arbor.gemm.midTuned --ab-rounds 2 --out $L/b128-ab
  # zeroInNorm on top of the table unless the table runs q|k|v unsplit (then there is nothing to zero: A/B it on the plan before)
  echo "$T1B" | grep -q "3072x2048x128=[a-z0-9]*/1\b" || ZT="-Darbor.gemm.midTuned=true -Darbor.gemm.midTunedTable=$T1B"
fi
run b128-zero 24 $J $ZT -cp $CP dev.arbor.server.Main bench $B128 --ab arbor.gemm.zeroInNorm --ab-rounds 1 --out $L/b128-zero
echo "zeroInNorm A/B with: $ZT" >> $OUT/summary.txt
run sweep-7b 30 $J -Dgemm.b128gShapes=7b -Dgemm.b128gM=128,256 -cp $CP dev.arbor.kernels.bench.GemmBench b128g
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
