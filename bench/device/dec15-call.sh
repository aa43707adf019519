#!/usr/bin/env bash
# Run 61-dec15's device call (session 15): paged decode at batch 1 (issue 11's >= 80% of the copy rate at >= 4k) and nbi b1 decode
# (issue 12). GPU tests (AttentionGpuTest: every method, small splits included; FlashHandoffGpuTest: launchOthers' changed call),
# AttentionBench's decode table with this branch's kernels (default form, then the small-split / plain / 8-warp forms) and with
# main's kernels jar (.device/dec15/main-lib), torch SDPA's decode peer, then the engine rows: llama-7b b1 default, nbi (narrow
# splits off), nbi with -Darbor.paged.narrowSplit=64. From the repo root on the GPU machine: bash .device/dec15/call.sh .device/dec15
set -u
D=${1:-.device}
L=/tmp/dec15; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPO=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 256"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|^torch|^-- |copy|tok/s|device ms|rc=|FAIL|Exception|Error" $L/$name.log | head -120; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests 55 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.kernels.attention.FlashHandoffGpuTest
run bench-new 55 $J -Dattn.decodeTable=true -Dattn.variants=true -cp $CP dev.arbor.kernels.bench.AttentionBench
run bench-main 25 $J -Dattn.decodeTable=true -cp $CPO dev.arbor.kernels.bench.AttentionBench
# peer: the first call (its JRE archive copied corrupt, every java step rc=127) ran only this line:
# run peer 30 env ATTN_PEER_SKIP_PREFILL=1 python3 bench/peers/attention_torch.py
run b1-default 22 $J -cp $CP dev.arbor.server.Main bench $B1
run b1-nbi 22 $J -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance
run b1-nbi-narrow64 22 $J -Darbor.paged.narrowSplit=64 -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
