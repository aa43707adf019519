#!/usr/bin/env bash
# Run 48-gqa10: DecodeKernels at Llama-3.2-1B's GQA-4 shape. From the repo root on the GPU machine, the bundle of
# bench/device/bundle.sh (no fixtures) carried as .dev-gqa10 with this script and final-run.sh in it:  bash .dev-gqa10/run.sh
# Text logs go under $OUT/logs (tarred after each step: logs.tgz), the ncu report beside it.
set -u
D=.dev-gqa10
L=$OUT/logs; mkdir -p $L
snap() { tar czf $OUT/logs.tgz -C $OUT logs 2>/dev/null; }
tar xJf $D/jre.tar.xz -C /tmp; export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
t() { echo "== $(date -u +%H:%M:%S) $*" >> $L/timeline.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm --format=csv > $L/gpu.txt 2>&1
# 1. the GQA-4 forms, CUDA-graph medians, alone on the GPU
t bench; timeout 60 $J -Dattn.gqaOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > $L/bench.log 2>&1; echo "rc=$?" >> $L/bench.log
cp $L/bench.log $OUT/bench.log; snap
# 2. ncu of the GQA-4 decode steps (default and q in shared memory at bounds 5; 128x512, 32x512, 1x4096), the GPU tests beside it
t tests+ncu
( timeout 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention > $L/tests.log 2>&1; echo "rc=$?" >> $L/tests.log ) &
timeout 60 ncu --set full --import-source yes -k regex:decode -c 6 -o /tmp/gqa $J -Dattn.gqaOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > $L/ncu.log 2>&1
echo "rc=$?" >> $L/ncu.log
ncu -i /tmp/gqa.ncu-rep --page details > $L/ncu-details.txt 2>&1; cp $L/ncu-details.txt $OUT/ncu-details.txt
ncu -i /tmp/gqa.ncu-rep --page raw --csv > $L/ncu-raw.csv 2>&1; gzip -f $L/ncu-raw.csv
cp /tmp/gqa.ncu-rep $OUT/gqa.ncu-rep 2>/dev/null
wait
cp $L/tests.log $OUT/tests.log; snap
# 3. the engine row and its op profile (main's default kernel form: this branch changes no default before the call)
t final-run; RUNS="llama1b-b128-nbi profile-1b-b128-nbi clocks" bash $D/final-run.sh $D; cp $OUT/run.log $L/ 2>/dev/null; snap
t source; timeout 20 ncu -i /tmp/gqa.ncu-rep --page source --csv --print-source sass > $L/ncu-source.csv 2>&1; gzip -f $L/ncu-source.csv
t done; snap
