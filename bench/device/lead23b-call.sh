#!/usr/bin/env bash
# Session 23, lead, after run 96-final23: seed workload 2 twice more on the final code (the default mode; run 96 gave 1.013 s), and
# b128g's llama-7b mid-range entries (q|k|v ping-pong, o and down TMA_64X2 x 4 at 128 tokens; not in the default table) A/B'd on
# seed workload 1 without batch invariance (107 sequences: the 128-row decode bucket).
#   bash bench/device/lead23b-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 170)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/lead23b-out}; mkdir -p $OUT
L=/tmp/lead23b; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-160}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
T7="12288x4096x128=tmapp128/1,4096x4096x128=tma64x2/4,4096x11008x128=tma64x2/4"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^A/B|^decode steps|total s |rc=|Exception|Error|differ" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log | head -c 200000 > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run w2-a 45 $J -cp $CP dev.arbor.server.Main bench $W2 --out $L/w2a
run w2-b 45 $J -cp $CP dev.arbor.server.Main bench $W2 --out $L/w2b
run w1nbi-ab 55 $J -Darbor.gemm.midTunedTable=$T7 -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --ab arbor.gemm.midTuned --out $L/w1nbi
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 8000 $OUT/summary.txt
