#!/usr/bin/env bash
# Run 91-pair22 (session 22, lead): dec22's -Darbor.paged.pairedOffsets in the engine — llama-7b batch 1 decode at positions past
# FLASH_BELOW (1,024), where the default mode runs the pipelined paged kernel: prompts of 1,536 and 3,500 tokens, 256 new, off/on
# alternating in one JVM a prompt length (`bench throughput --ab`, tokens compared).
#   bash bench/device/pair22-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 170)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/pair22-out}; mkdir -p $OUT
L=/tmp/pair22; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-160}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^ab |^decode:|^decode steps|rc=|Exception|Error|differ|FAILED" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
for P in 1536 3500; do
  run b1-p$P 75 $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
    --batch 1 --prompt-len $P --output-len 256 --ab arbor.paged.pairedOffsets --ab-rounds 2 --out $L/p$P
done
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
