#!/usr/bin/env bash
# Run 102-diag24 (session 24, lead): where llama3.2-1b b128 nbi decode drains the device between steps — one run with
# -Darbor.cuda.callTimes=true (DriverCallTimes: every driver call's host time by name, and the draining calls
# (cuCtxSynchronize, synchronous copies back, stream synchronisation) by call site), then llama-7b b1 the same way.
#   bash bench/device/diag24-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 120)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/diag24-out}; mkdir -p $OUT
L=/tmp/diag24; mkdir -p $L
T0=$(date +%s)
LIMIT=${LIMIT:-100}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; local left=$((LIMIT - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; echo "== $(date -u +%T) $name done" >> $L/timeline.txt
  { echo "== $name"; grep -E "^decode:|^decode steps|^driver (call|drain)|rc=|Exception|Error" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt
  grep -v "^\s*at \|^\s*\.\.\. [0-9]* more" $L/$name.log > $OUT/$name.log; cp $L/timeline.txt $OUT/ 2>/dev/null; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run b128-calls 30 $J -Darbor.cuda.callTimes=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b --device cuda \
  --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance --out $L/b128
run b1-calls 40 $J -Darbor.cuda.callTimes=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda \
  --batch 1 --prompt-len 128 --output-len 128 --out $L/b1
clocks
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 10000 $OUT/summary.txt
