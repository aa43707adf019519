#!/usr/bin/env bash
# Run 81-walk21's device call (session 21, issues 12 and 11). (A) seed workload 2 with -Darbor.flash.chunkWarpTiles off/on in one
# JVM (session 20's unmeasured switch, run 78-mix20's command: 8,192-token steps, tokens compared); (B) the one-buffer kernel's half
# ring (-Darbor.flash.warpHalfRing): FlashDecodeBench halfring (the per-sequence pass alone at workload 2's / 1's / b128's decode
# shapes: plain | key halves (default) | half ring | whole tiles, interleaved 3 rounds, bits compared), FlashWarpOneBufferGpuTest
# (half ring == one-warp bits at model shapes, handoff == one pass), then workload 2 with the ring off/on in one JVM (tokens compared).
# Each part's summary lands in $OUT as it ends; a part gets what is left of a 144 s budget when less than its own limit.
# Run 81 (this script at 2f046dc, the bench row then named `ring`): chunk-ab was cut at 36 s after its off half (it needs ~50 s) and
# the tests at 34 s (the handoff test needs ~50 s); a rerun should give each its own call or drop a part.
# From the repo root on the GPU machine: bash .device/walk21/walk21-call.sh .device/walk21
set -u
D=${1:-.device}
L=/tmp/walk21; mkdir -p $L
T0=$(date +%s)
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
run() { local name=$1 t=$2; shift 2; local left=$((144 - $(date +%s) + T0)); [ $left -lt $t ] && t=$left
  [ $t -lt 6 ] && { echo "== $name skipped (time)" >> $OUT/summary.txt; return; }
  echo "== $(date -u +%T) $name (timeout $t)" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L . 2>/dev/null
  { echo "== $name"; grep -E "^A/B|^(auto|mode)|^  (decode|other) steps|vs [0-9]+:|total s |^(ring|onebuffer|   resources|--)|tests (found|successful|failed)|bit for bit|rc=|Exception|Error|FAIL|same tokens|differ" $L/$name.log | grep -v "^\s*at " | head -60; } >> $OUT/summary.txt; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt; }
clocks
run chunk-ab 36 $J -cp $CP dev.arbor.server.Main bench $W2 --max-num-batched-tokens 8192 --ab arbor.flash.chunkWarpTiles --out $L/chunk-ab
run bench 22 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench halfring
run tests 34 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashWarpOneBufferGpuTest
run ring-ab 40 $J -cp $CP dev.arbor.server.Main bench $W2 --ab arbor.flash.warpHalfRing --out $L/ring-ab
clocks
echo "wall $(( $(date +%s) - T0 )) s" >> $L/timeline.txt
tar czf $OUT/logs.tgz -C $L . 2>/dev/null
cp $L/clocks.txt $L/timeline.txt $OUT/ 2>/dev/null
cat $L/clocks.txt $L/timeline.txt; head -c 10000 $OUT/summary.txt
