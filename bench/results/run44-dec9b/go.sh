#!/usr/bin/env bash
# Run 44-dec9b (2026-12-01, H200, session 9): ncu of the handoff's per-sequence pass (one-warp tiles) at workload 2's and 1's decode.
# From the repo root on the GPU machine, a kernels-only bundle (accel + kernels jars, their test classes, jackson/slf4j/fastutil, jre)
# carried as .dev-dec9b:   bash .dev-dec9b/go.sh
# Back: timeline.txt, decode-bench.log, w2-details.txt, w1-details.txt, and everything (reports, raw/source pages) in logs.tgz.
set -u
D=.dev-dec9b
L=/tmp/dec9b-logs; mkdir -p $L
T0=$(date +%s)
tar xJf $D/jre.tar.xz -C /tmp
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
pack() { tar czf $OUT/logs.tgz -C /tmp dec9b-logs 2>/dev/null; }
step() { echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $1" | tee -a $L/timeline.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw --format=csv >> $L/clocks.txt 2>&1
(ncu --version; which ncu) > $L/ncu-version.txt 2>&1
prof() {   # name seqs ctx shared
  step "ncu $1"
  timeout ${5:-30} ncu --set full -k regex:warpBf16 -c 2 -f -o $L/$1 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench handoff $2 $3 $4 2 > $L/$1-run.log 2>&1
  echo "rc=$?" >> $L/$1-run.log
  ncu -i $L/$1.ncu-rep --page details > $L/$1-details.txt 2>&1
  cp $L/$1-details.txt $OUT/; pack
  ncu -i $L/$1.ncu-rep --page raw --csv > $L/$1-raw.csv 2>&1
  ncu -i $L/$1.ncu-rep --page source --csv --print-source sass -k regex:warpBf16 --launch-skip 1 --launch-count 1 > $L/$1-sass.csv 2>&1
  pack
}
prof w2 434 790 752 25
prof w1 104 565 530 18
step decode-bench
timeout 12 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench > $L/decode-bench.log 2>&1; echo "rc=$?" >> $L/decode-bench.log
cp $L/decode-bench.log $OUT/
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw --format=csv >> $L/clocks.txt 2>&1
step done; cp $L/timeline.txt $OUT/; pack
