#!/usr/bin/env bash
# Run 57-ores12's second call (only on a machine already warm): the engine's residual-adding stages in a multi-sequence prefill
# of the same token count as the single-sequence one of the first call (8 x 256 against 1 x 2048, --no-batch-invariance), op
# profile fused, then unfused (-Darbor.cuda.fusion=false: matmul, add and rmsNorm timed apart). bash bench/device/ores12-call2.sh DIR
set -u
D=${1:-.device}
L=/tmp/ores12b; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Darbor.opProfile=true"
P="throughput --model synthetic:llama-7b --device cuda --prompt-len 256 --batch 8 --output-len 2 --no-batch-invariance"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/ores12b-logs.tgz -C /tmp ores12b; }
step prof-8x256 22 $J -cp $CP dev.arbor.server.Main bench $P --out $L/a
pack
step prof-8x256-unfused 22 $J -Darbor.cuda.fusion=false -cp $CP dev.arbor.server.Main bench $P --out $L/b
pack
grep -h -A12 'prefill/mixed steps (' $L/*.log
