#!/usr/bin/env bash
# Run 78-mix20's device call (session 20, issue 12): why seed workload 2's mixed steps' attention costs ~7x its FLOP floor.
# (1) ncu over the attention kernels (names prefill|shared|warp|split|long) of workload 2's prefill/mixed steps at 8,192 tokens a
# step (switch off, --no-warmup: the one run's 3 steps, 192 launches); (2) workload 2, A/B of -Darbor.flash.chunkWarpTiles (false
# then true in one JVM, tokens compared); (3) the A/B again under -Darbor.opProfile=true (the attention op per step);
# (4) FlashChunkWarpTilesGpuTest (chunks in short tiles: the 64-row tiles' bits). Each part's summary lands in $OUT as it ends.
# From the repo root on the GPU machine: bash .device/mix20/mix20-call.sh .device/mix20
set -u
D=${1:-.device}
L=/tmp/mix20; mkdir -p $L
T0=$(date +%s)
here="$(dirname "$0")"
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --max-num-batched-tokens 8192"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread
left() { echo $((140 - $(date +%s) + T0)); }
run() { local name=$1 t=$2; shift 2; local l=$(left); [ $l -lt $t ] && t=$l
  [ $t -lt 5 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "^A/B|^(auto|mode)|^  (decode|other) steps|vs [0-9]+:|total s |rc=|Exception|Error|tokens (differ|match|same)|prefill/mixed (steps total|wall|device)|op profile|^  [A-Za-z].*%$|bit for bit|tests (successful|failed)|^\[|same tokens|differ" $L/$name.log | grep -v "^\s*at " | head -70; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > $L/clocks.txt
run ncu 45 $NCU -k "regex:^(prefill|shared|warp|split|long)" --launch-count 192 --cache-control none --clock-control none --metrics $M --csv \
    --log-file $L/ncu.csv $J -cp $CP dev.arbor.server.Main bench $W2 --no-warmup --out $L/ncu-w2
python3 "$here/ncu-attention.py" $L/ncu.csv > $L/ncu-attention.txt 2>&1; gzip -f $L/ncu.csv
{ echo "===== ncu attention (switch off, --no-warmup: the run's prefill/mixed steps)"; head -c 6000 $L/ncu-attention.txt; } >> $OUT/summary.txt
run w2-ab 32 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.chunkWarpTiles --out $L/w2-ab
run w2-ops 30 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.chunkWarpTiles --out $L/w2-ops
run tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashChunkWarpTilesGpuTest
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $L/clocks.txt
cp $L/clocks.txt $L/timeline.txt $L/ncu-attention.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cat $L/timeline.txt; head -c 11000 $OUT/summary.txt
