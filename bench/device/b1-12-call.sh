#!/usr/bin/env bash
# Run 57-b1-12's one device call (jars of main 41571b3, no code change): the default mode's b1 decode with the tensor-core
# attention (FLASH_BELOW, the default) against the CUDA-core paged split kernel for every token (-Darbor.cuda.flashBelow=0,
# batch-invariant by construction: the kernel is chosen by a token's position alone), interleaved, then one ncu pass over a
# --no-batch-invariance b1 run (final-run.sh's timeline-b1-nbi: the nbi step by kernel, never traced before).
# The device tool copies the session's root checkout (/work/main), not a helper's worktree: this script and
# ncu-step-timeline.py travelled inside the bundle folder (.device/b1-12/call.sh, carried alone), so the call was
#   bash .device/b1-12/call.sh .device/b1-12   (DIR holds jre.tar.xz, lib/ and ncu-step-timeline.py)
# The first JVM of a call needs more than 28 s for --batch 1,1 (its second pass was cut: T_B1=40 next time).
set -u
D=${1:-.device}
L=/tmp/b1-12; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/b1-12-logs.tgz -C /tmp b1-12; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step b1-flash ${T_B1:-28} $J -cp $CP dev.arbor.server.Main bench $B1 --out $L/b1-flash
pack
step b1-paged ${T_B1:-28} $J -Darbor.cuda.flashBelow=0 -cp $CP dev.arbor.server.Main bench $B1 --out $L/b1-paged
pack
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
step ncu-nbi ${T_NCU:-38} $NCU --graph-profiling node --launch-skip 400 --launch-count 700 --cache-control none --clock-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file $L/ncu-nbi.csv \
    $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5 \
    --no-batch-invariance --out $L/ncu-nbi-run
python3 "$D/ncu-step-timeline.py" $L/ncu-nbi.csv 4240 > $L/step-timeline-nbi.txt 2>&1
pack
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
cat $L/step-timeline-nbi.txt | head -40
grep -h 'replayed decode steps only\|tok/s' $L/*.log | head -30
