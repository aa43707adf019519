#!/usr/bin/env bash
# Run 53-gqa11: DecodeKernels' K/V widening once per key (same bits), the exp without subnormal fix-up (expFtz) as a candidate,
# and ThroughputBench's full-length warm-up, against main. From the repo root on the GPU machine, the bundle of
# bench/device/bundle.sh (no fixtures) carried as .dev-gqa11 with: alt/old-kernels.jar + alt/old-server.jar (main 34c0721),
# alt/ftz-kernels.jar (the branch + expFtz in DecodeKernels.update), probe/ (BitsProbe and this branch's AttentionBench, compiled).
#   bash .dev-gqa11/run.sh        logs under $OUT/logs, tarred after each step into $OUT/logs.tgz
set -u
D=.dev-gqa11
L=$OUT/logs; mkdir -p $L
snap() { tar czf $OUT/logs.tgz -C $OUT logs 2>/dev/null; }
tar xJf $D/jre.tar.xz -C /tmp; export DJL_OFFLINE=true
NEW=$D/probe:$(echo $D/lib/*.jar | tr ' ' ':')
KJ=$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar SJ=$D/lib/arbor-server-0.1.0-SNAPSHOT.jar
OLD=${NEW//$KJ/$D/alt/old-kernels.jar}; OLD=${OLD//$SJ/$D/alt/old-server.jar}
FTZ=${NEW//$KJ/$D/alt/ftz-kernels.jar}
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
t() { echo "== $(date -u +%H:%M:%S) $*" >> $L/timeline.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm --format=csv > $L/gpu.txt 2>&1
# 1. the bits: main's kernels against the branch's, CRC32 of DecodeKernels' output at GQA-4
for v in old new; do
  t bits-$v; CP=${v^^}; timeout 25 $J -cp ${!CP} dev.arbor.kernels.attention.BitsProbe > $L/bits-$v.log 2>&1; echo "rc=$?" >> $L/bits-$v.log
done; snap
# 2. the GQA-4 rows (launcher's rule, split, whole at 128x512, 32x512, 1x4096, 128x1024), CUDA-graph medians, alone on the GPU
for v in old new ftz new; do
  t bench-$v; CP=${v^^}; timeout 20 $J -Dattn.gqaOnly=true -Dattn.gqaForms=3 -cp ${!CP} dev.arbor.kernels.bench.AttentionBench >> $L/bench-$v.log 2>&1; echo "rc=$?" >> $L/bench-$v.log
done; snap
# 3. ncu of the branch's kernel at 128x512 (the first profileOnly launch), the GPU tests on the expFtz jar beside it
t tests+ncu
( timeout 45 $J -cp $FTZ dev.arbor.accel.testing.DeviceTestLauncher gpu \
    'dev.arbor.kernels.attention.AttentionGpuTest#gqa4HeadDim64AgreesWithTheReferenceAndKeepsItsBitsUnderEveryBound' \
    'dev.arbor.kernels.attention.AttentionGpuTest#decodeAtModelShapesAgreesWithTheReference' \
    'dev.arbor.kernels.attention.AttentionGpuTest#prefillChunksAndBatchInvarianceOnTheDevice' \
    'dev.arbor.kernels.attention.AttentionGpuTest#cascadeAtTheSeedsSharedPrefixShape' > $L/tests-ftz.log 2>&1; echo "rc=$?" >> $L/tests-ftz.log ) &
timeout 35 ncu --set full -k regex:decode -c 1 -o /tmp/gqa $J -Dattn.gqaOnly=true -Dattn.profileOnly=true -cp $NEW dev.arbor.kernels.bench.AttentionBench > $L/ncu.log 2>&1
echo "rc=$?" >> $L/ncu.log
ncu -i /tmp/gqa.ncu-rep --page details > $L/ncu-details.txt 2>&1
ncu -i /tmp/gqa.ncu-rep --page raw --csv > $L/ncu-raw.csv 2>&1; gzip -f $L/ncu-raw.csv
wait; snap
# 4. llama3.2-1b b128 x 512: main (4-token warm-up) and the branch, nbi; the branch in the default mode. The graph captures logged.
G="-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS -Dorg.slf4j.simpleLogger.log.dev.arbor.models.cuda.DecodeGraphs=debug"
A="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
t 1b-nbi-old; timeout 30 $J $G -cp $OLD dev.arbor.server.Main bench $A --no-batch-invariance --out /tmp/o1 > $L/1b-nbi-old.log 2>&1; echo "rc=$?" >> $L/1b-nbi-old.log; snap
t 1b-nbi-new; timeout 30 $J $G -cp $NEW dev.arbor.server.Main bench $A --no-batch-invariance --out /tmp/o2 > $L/1b-nbi-new.log 2>&1; echo "rc=$?" >> $L/1b-nbi-new.log; snap
t 1b-default-new; timeout 35 $J $G -cp $NEW dev.arbor.server.Main bench $A --out /tmp/o3 > $L/1b-default-new.log 2>&1; echo "rc=$?" >> $L/1b-default-new.log
t done; snap
