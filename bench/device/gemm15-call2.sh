#!/usr/bin/env bash
# Run 61-gemm15's second device call: the mid-range ping-pong rule (Gemm.pingPongMidFaster, -Darbor.gemm.pingPongMid). GemmBench pp-mid
# (the default plan without / with the rule, off / on / off / on, at llama3.2-1b's gate|up and lm_head, the 7b / Llama-3 lm_heads and
# gate|up at 116-128 tokens), the engine row llama3.2-1b b128 nbi off / on / off / on, then GemmGpuTest (cut in call 1 by its limit).
# From the repo root on the GPU machine: bash .device/gemm15/call2.sh .device/gemm15   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/gemm15b; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
OFF=-Darbor.gemm.pingPongMid=false
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^pp-mid |FAILED|decode tokens/s|decode device ms|rc=|Exception" $L/$name.log | cut -c1-300 | head -30; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run bench ${T_BENCH:-30} $J -cp $CP dev.arbor.kernels.bench.GemmBench pp-mid
run 1b-off1 ${T_ENG:-25} $J $OFF -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-off1
run 1b-on1 ${T_ENG:-25} $J -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-on1
run 1b-off2 ${T_ENG:-25} $J $OFF -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-off2
run 1b-on2 ${T_ENG:-25} $J -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-on2
run tests ${T_TESTS:-35} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
