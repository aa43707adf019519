#!/usr/bin/env bash
# Run 59-gemm14's third device call (after the plan's if/else fix): seed workload 1 nbi deep / main (-Darbor.gemm.deep=false), then
# the default mode with this branch's defaults (invariantDeep on).
set -u
D=${1:-.device}
L=/tmp/gemm14; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log
  { echo "== $name"; grep -E "^auto  |decode steps:|other steps|rc=" $L/$name.log | cut -c1-150; } >> $OUT/summary.txt; }
run w1-nbi-deep 25 $J -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/a
run w1-nbi-main 25 $J -Darbor.gemm.deep=false -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/b
run w1 25 $J -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/c
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $OUT/summary.txt
cat $OUT/summary.txt
