#!/usr/bin/env bash
# Run 59-gemm14's device call (session 14): the deep plan at 65-256 tokens. GPU tests (GemmGpuTest, GemmInvarianceGpuTest incl. the
# deep tiles' one-slice bit comparisons), GemmBench deep (main's plan = -Darbor.gemm.deep=false, against the deep plan, interleaved;
# every deep candidate; the invariant plan with invariantDeep), then the engine rows, each deep / main (or invariantDeep on / off)
# back to back. From the repo root on the GPU machine: bash bench/device/gemm14-call.sh DIR   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/gemm14; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
OFF=-Darbor.gemm.deep=false
INV=-Darbor.gemm.invariantDeep=true
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: ${*##*Main }" | sed "s#-cp [^ ]*#-cp CP#" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|FAILED|differ \(max [1-9]|deep/main|deepinv|unchanged|^auto|decode|device|prefill|tokens/s|rc=" $L/$name.log | cut -c1-260 | head -60; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmInvarianceGpuTest
run bench 85 $J -cp $CP dev.arbor.kernels.bench.GemmBench deep
run w1-nbi-deep 30 $J -cp $CP dev.arbor.server.Main bench $W1 --model $M --no-batch-invariance --out /tmp/o/w1-nbi-deep
run w1-nbi-main 30 $J $OFF -cp $CP dev.arbor.server.Main bench $W1 --model $M --no-batch-invariance --out /tmp/o/w1-nbi-main
run 1b-nbi-deep 30 $J -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-nbi-deep
run 1b-nbi-main 30 $J $OFF -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-nbi-main
run bc-w1-inv 40 $J $INV -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --out /tmp/o/bc-w1-inv
run bc-w1 40 $J -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --out /tmp/o/bc-w1
run w1-inv 30 $J $INV -cp $CP dev.arbor.server.Main bench $W1 --model $M --out /tmp/o/w1-inv
run w1 30 $J -cp $CP dev.arbor.server.Main bench $W1 --model $M --out /tmp/o/w1
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
cp $L/clocks.txt $OUT/
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $OUT/summary.txt
