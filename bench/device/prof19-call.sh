#!/usr/bin/env bash
# Run 71-prof19's device call (session 19, lead): the engine GPU tests that session 18's last changes touch (the one-buffer decode
# pass now on by default, asynchronous scheduling's timing fix), then decode steps by kernel (ncu over the replayed graphs' nodes,
# caches and clocks left alone; bench/device/ncu-step-timeline.py) for b1 llama-7b (given 75 s: 40 s cut it in run 68) and
# llama3.2-1b b128 nbi (skip 3000: run 66-prof17's window for the 128-row step).
# From the repo root on the GPU machine, with closing-bundle.sh's bundle: bash bench/device/prof19-call.sh .device
set -u
D=${1:-.device}
L=/tmp/prof19; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp; tar xJf "$D/fixtures.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 24"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
here="$(dirname "$0")"
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
tl() { local name=$1 t=$2 skip=$3 count=$4; shift 4; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" $NCU --graph-profiling node --launch-skip $skip --launch-count $count --cache-control none --clock-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file $L/$name.csv \
    $J -cp $CP dev.arbor.server.Main bench "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  python3 "$here/ncu-step-timeline.py" $L/$name.csv > $L/$name-steps.txt 2>&1; gzip -f $L/$name.csv
  { echo "===== $name"; grep -E "rc=|Exception|Error" $L/$name.log | head -5; cat $L/$name-steps.txt; } >> $OUT/summary.txt
  tar czf $OUT/logs.tgz -C $L . 2>/dev/null; }
clocks
timeout 80 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu ${GPU_TESTS:-dev.arbor.engine.EngineGpuTest \
    dev.arbor.engine.AsyncSchedulingGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.FusedForwardGpuTest} \
    > $OUT/tests.log 2>&1; echo "rc=$?" >> $OUT/tests.log
tl b1 75 400 700 throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
tl 1b-nbi 50 3000 600 $B128 --no-batch-invariance
clocks
cat $L/clocks.txt $L/timeline.txt; grep -E "tests (found|successful|failed)|rc=" $OUT/tests.log
grep -E "^=====|^step|rc=" $OUT/summary.txt | head -40
