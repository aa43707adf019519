#!/usr/bin/env bash
# Run 94-b128g (session 23): the default (--no-batch-invariance) plan at 65-256 tokens retuned from a sweep. GemmBench b128g times
# every tile form x K slices (fp32 atomics into C, zeroed first when stored, or unsplit) and the deep / ping-pong forms at
# llama3.2-1b's q|k|v, o, gate|up (SwiGLU epilogue), down, lm_head and llama-7b's products at 128 and 256 tokens (bf16 X, C as the
# engine writes it, W rotated past the L2, graph replays), re-times the fastest against the plan (plan/best/plan/best) and prints
# "TUNED NxKxM=tiles/slices" where it is >= 2% faster. Those entries become -Darbor.gemm.midTunedTable for the engine rows, A/B'd
# with --ab arbor.gemm.midTuned in one JVM (tokens compared): llama3.2-1b b128 x 512 nbi, then (time left) 7b seed workload 1 nbi.
#   bash .device/b128g/b128g-call.sh .device/b128g   (carry [".device/b128g"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/b128g-out}; mkdir -p $OUT
L=/tmp/b128g; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-144}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^b128g |^TUNED |^ab |^A/B|^decode:|^decode steps|rc=|Exception|Error|FAILED|differ" $L/$name.log | grep -v "^\s*at " | head -80; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
table() { grep -h "^TUNED " "$@" 2>/dev/null | sed 's/^TUNED //' | paste -sd, -; }
clocks
run sweep-1b 52 $J -Dgemm.b128gShapes=1b -Dgemm.b128gM=${B128G_M:-128,256} -cp $CP dev.arbor.kernels.bench.GemmBench b128g
T1B=$(table $L/sweep-1b.log); echo "table 1b: $T1B" | tee -a $OUT/summary.txt
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
if [ -n "$T1B" ]; then
  run b128-ab 36 $J -Darbor.gemm.midTunedTable=$T1B -cp $CP dev.arbor.server.Main bench $B128 --ab arbor.gemm.midTuned --ab-rounds 2 --out $L/b128-ab
fi
run sweep-7b 34 $J -Dgemm.b128gShapes=7b -Dgemm.b128gM=128,256 -cp $CP dev.arbor.kernels.bench.GemmBench b128g
T7B=$(table $L/sweep-7b.log); echo "table 7b: $T7B" | tee -a $OUT/summary.txt
if [ -n "$T7B" ]; then
  run w1-ab 30 $J -Darbor.gemm.midTunedTable=$T7B -cp $CP dev.arbor.server.Main bench shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 \
      --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance --ab arbor.gemm.midTuned --out $L/w1-ab
elif [ -n "$T1B" ]; then
  run b128-ab2 26 $J -Darbor.gemm.midTunedTable=$T1B -cp $CP dev.arbor.server.Main bench $B128 --ab arbor.gemm.midTuned --ab-rounds 1 --out $L/b128-ab2
fi
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
