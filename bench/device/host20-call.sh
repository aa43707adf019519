#!/usr/bin/env bash
# Run 73-host20's device call (session 20, issue 12): the device gap between decode steps measured with CUDA events (idle from
# a step's end to the next step's first input copy; then its input copies), and -Darbor.cuda.cascadeGraphs off/on in one JVM
# per workload (bench shared-prefix --ab: each after its own warm-up, tokens compared). Seed workload 2, workload 1, Baichuan2-13B
# at workload 1's sizes (default mode: batch-invariant, the decode steps' cascade groups as a state handoff), and the engine
# GPU tests (EngineGpuTest incl. cascadeDecodeStepsAsGraphsGiveTheEagerTokens, AsyncSchedulingGpuTest).
# Run as: copy .device/{lib,jre.tar.xz,fixtures.tar.xz} and this script into the session checkout's ignored .device/host20/ (a call sends
# that checkout, not a helper's worktree), then run(command="bash .device/host20/host20-call.sh .device/host20", carry=[".device/host20"]).
set -u
D=${1:-.device}
L=/tmp/host20; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.dev.arbor.models.cuda.CascadeGraphs=info"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
AB="--ab arbor.cuda.cascadeGraphs"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "^(auto|mode)|^  (decode|other) steps|^A/B|vs [0-9]+:|cascade decode graphs|capturing|tests (found|successful|failed)|rc=|Exception|Error|OutOfMemory" $L/$name.log | grep -v "^\s*at " | grep -v "tokens (100%\|0/" | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active,memory.used --format=csv >> $L/clocks.txt; }
clocks
run w2 40 $J -cp $CP dev.arbor.server.Main bench $W2 $AB --out $L/w2
run tests 45 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.engine.EngineGpuTest dev.arbor.engine.AsyncSchedulingGpuTest
run w1 28 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b $AB --out $L/w1
run bc-w1 40 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b $AB --out $L/bc-w1
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 10000 $OUT/summary.txt
