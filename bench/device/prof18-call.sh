#!/usr/bin/env bash
# Run 68-prof18's device call (session 18, lead): decode steps by kernel (ncu over the replayed graphs' nodes, caches and clocks left
# alone; bench/device/ncu-step-timeline.py prints every complete step's total and the last one by kernel against its DRAM-byte floor)
# for b1 llama-7b (cut at 40 s under ncu: give it ~60 s), seed workload 2 and workload 1 (default mode), llama3.2-1b b128 nbi (this window
# caught a 64-row step: skip 6200 lands there after session 17; run 66-prof17 has the 128-row step).
# From the repo root on the GPU machine: bash .device/prof18/prof18-call.sh .device/prof18
set -u
D=${1:-.device}
L=/tmp/prof18; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 24"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
tl() { local name=$1 t=$2 skip=$3 count=$4; shift 4; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" $NCU --graph-profiling node --launch-skip $skip --launch-count $count --cache-control none --clock-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file $L/$name.csv \
    $J -cp $CP dev.arbor.server.Main bench "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  python3 "$D/ncu-step-timeline.py" $L/$name.csv > $L/$name-steps.txt 2>&1; gzip -f $L/$name.csv
  { echo "===== $name"; grep -E "rc=|Exception|Error" $L/$name.log | head -5; cat $L/$name-steps.txt; } >> $OUT/summary.txt
  tar czf $OUT/logs.tgz -C $L . 2>/dev/null; }
clocks
tl b1 40 400 700 throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5
tl w2 110 3000 1400 $W2
tl 1b-nbi 45 6200 400 $B128 --no-batch-invariance
tl w1 55 2400 900 $W1
clocks
cat $L/clocks.txt $L/timeline.txt; grep -E "^=====|^step|rc=" $OUT/summary.txt | head -80
