#!/usr/bin/env bash
# Run 82-norm21 (session 21, issue 12): -Darbor.cuda.prologueNorm — o / down add their own slabs into the residual, the next
# projection (q|k|v, gate|up) computes the RMSNorm in its prologue — at llama-7b batch 1. A short warm JVM first (compiles the
# kernels into the on-disk cache), then b1 (prompt 128, 256 new, two passes a JVM) off / on / on / off, then the bit tests.
# Run 82 (10:21 UTC) ran it with the tests between the pairs and a 26 s warm JVM, which its cold kernel cache used up compiling:
# the follow-up gives the warm JVM 36 s and the tests the end.
# The device tool copies /work/main, not a helper's worktree: this script and a `bundle.sh --lean` bundle of branch norm21
# (lib/, jre.tar.xz) go into an ignored folder there, .device/norm21/, and run:
#   bash .device/norm21/norm21-call.sh .device/norm21   (carry [".device/norm21"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/norm21-out}; mkdir -p $OUT
L=/tmp/norm21; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; local left=$((146 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "^decode:|^decode steps|tok/s|rc=|Exception|Error|differ|the same bits|tests (successful|failed|found)|FAILED|✘|registers" $L/$name.log | grep -v "^\s*at " | head -40; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run warm 36 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
run b1-off 21 $J -Darbor.cuda.prologueNorm=false -cp $CP dev.arbor.server.Main bench $B1
run b1-on 21 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench $B1
run b1-on2 21 $J -Darbor.cuda.prologueNorm=true -cp $CP dev.arbor.server.Main bench $B1
run b1-off2 21 $J -Darbor.cuda.prologueNorm=false -cp $CP dev.arbor.server.Main bench $B1
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmNormPrologueGpuTest dev.arbor.models.PrologueNormGpuTest
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 9000 $OUT/summary.txt
