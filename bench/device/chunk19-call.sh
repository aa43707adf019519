#!/usr/bin/env bash
# Run 72-chunk19's device call (session 19): the step token budget (--max-num-batched-tokens) of the shared-prefix workloads'
# prefill/mixed steps (issue 12). One JVM per workload runs every budget after its own warm-up (shared-prefix and throughput take
# a list of budgets now) and checks that greedy tokens are the same at every budget (default mode: batch-invariant).
# Then llama3.2-1b b128 at 2048 and 8192, and seed workload 2 under -Darbor.opProfile=true (the prefill/mixed steps by operation).
# From the repo root on the GPU machine: bash .device/chunk19/chunk19-call.sh .device/chunk19
set -u
D=${1:-.device}
L=/tmp/chunk19; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
run() { local name=$1 t=$2; shift 2; local left=$((124 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^(auto|mode)|^  (decode|other) steps|memory:|vs [0-9]+:|^prefill:|^decode:|^decode steps|^other steps|total s |rc=|Exception|Error|OutOfMemory|prefill/mixed|op profile|^  [A-Za-z].*%$" $L/$name.log | grep -v "^\s*at " | head -90; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active,memory.used --format=csv >> $L/clocks.txt; }
clocks
run w2 52 $J -cp $CP dev.arbor.server.Main bench $W2 --max-num-batched-tokens 2048,4096,8192,16384 --out $L/w2
clocks
run w1 32 $J -cp $CP dev.arbor.server.Main bench $W1 --max-num-batched-tokens 2048,4096,8192 --out $L/w1
run b128 22 $J -cp $CP dev.arbor.server.Main bench $B128 --max-num-batched-tokens 2048,8192 --out $L/b128
run w2-ops 30 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --max-num-batched-tokens 8192 --out $L/w2-ops
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 11000 $OUT/summary.txt
