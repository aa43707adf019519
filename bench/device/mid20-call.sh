#!/usr/bin/env bash
# Session 20's decision call (run 76, lead): the three helpers' follow-ups on merged main, one cold start for all.
#  norm20b: -Darbor.cuda.fusedNormGemv at batch 1 (a warm JVM first, b1 off / on, the bit tests GemmAddNormGpuTest + FusedNormGemvGpuTest);
#  dec20b: the bulk decode kernel's device bit test and the L2-prefetch forms against the default, issue 11's decode table;
#  host20: -Darbor.cuda.cascadeGraphs off / on (bench shared-prefix --ab, tokens compared) at seed workloads 1, 2 and Baichuan2-13B w1,
#  now with the eager step after a capture that met a matrix without a tensor map.
# From the repo root on the GPU machine, with closing-bundle.sh's bundle: bash bench/device/mid20-call.sh .device
set -u
D=${1:-.device}
L=/tmp/mid20; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
AB="--ab arbor.cuda.cascadeGraphs"
run() { local name=$1 t=$2; shift 2; local left=$((${BUDGET:-330} - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 8 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "^decode:|^decode steps|^(auto|mode)|^  (decode|other) steps|^A/B|vs [0-9]+:|cascade decode graphs|^decode|copy|tests (found|successful|failed)|differ|the same bits|rc=|Exception|Error|OutOfMemory|FAILED|✘" $L/$name.log | grep -v "^\s*at " | grep -v "tokens (100%\|0/" | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run warm 30 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
run b1-off 24 $J -Darbor.cuda.fusedNormGemv=false -cp $CP dev.arbor.server.Main bench $B1
run b1-on 24 $J -Darbor.cuda.fusedNormGemv=true -cp $CP dev.arbor.server.Main bench $B1
run norm-tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmAddNormGpuTest dev.arbor.models.FusedNormGemvGpuTest
run w2 42 $J -cp $CP dev.arbor.server.Main bench $W2 $AB --out $L/w2
run w1 28 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:llama-7b $AB --out $L/w1
run bc-w1 40 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b $AB --out $L/bc-w1
run attn-tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
    'dev.arbor.kernels.attention.AttentionGpuTest#bulkCopiesGiveTheBitsOfTheGlobalLoadsOnTheDevice' \
    'dev.arbor.kernels.attention.AttentionGpuTest#smallSplitsAgreeWithTheReferenceAndKeepATokensBits'
run attn-bench 40 $J -Dattn.decodeTable=true -Dattn.bulkForms=0:4:4,0:4:8,0:4:16 -cp $CP dev.arbor.kernels.bench.AttentionBench
clocks
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 11000 $OUT/summary.txt
