#!/usr/bin/env bash
# A follow-up call to run 75-norm20, not yet run (session 20 had one device call a helper): -Darbor.cuda.fusedNormGemv at batch 1
# (its rows' default since run 75), now with the GEMM's early dependent launch. A short warm JVM first (run 75's first JVM spent its
# time compiling kernels), then llama-7b b1 (two passes a JVM) off / on, then the bit tests, then b8 with the rows at 8.
# The device tool copies the session's repository root (/work/main), not a helper's worktree: put this script and a
# `bundle.sh --lean --model tiny-llama3` bundle of branch norm20 (lib/, jre.tar.xz, fixtures.tar.xz) into an ignored folder there,
# e.g. .device/norm20b/, and run: bash .device/norm20b/norm20b-call.sh .device/norm20b   (carry [".device/norm20b"], timeout_s 150)
set -u
D=${1:-.device}
L=/tmp/norm20b; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
B8="throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 128 --output-len 128"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode:|^decode steps|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run warm 28 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
run b1-off 24 $J -Darbor.cuda.fusedNormGemv=false -cp $CP dev.arbor.server.Main bench $B1
run b1-on 24 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench $B1
run tests 25 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmAddNormGpuTest dev.arbor.models.FusedNormGemvGpuTest
run b8-on 18 $J -Darbor.cuda.fusedNormGemv=true -Darbor.cuda.fusedNormGemvRows=8 -cp $CP dev.arbor.server.Main bench $B8
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
