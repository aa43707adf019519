#!/usr/bin/env bash
# Run 35-attn7 (issue 11): the cascade warp suffix with its row states folded through shuffles (registers) instead of shared
# memory, the block-table lookups in one round trip, the query load ahead of keyStart, the rounds of visible keys only and the
# shared slots two a round trip, against run 30's warp suffix (same call); ncu of both and of the shared level; GPU tests;
# the engine's workload 2 and its op profile (bench/device/final-run.sh). Carried bundle: .dev-attn7 (bundle.sh, no fixtures).
D=.dev-attn7
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,clocks.sm,clocks.mem --format=csv > $OUT/gpu.txt 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt; }
t bench 45 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
t tests 70 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest
# ncu: per 107 x 530 and 500 x 752 row, the shared level + the new warp suffix, then the shared level + run 30's suffix (8 kernels)
t ncu 60 ncu --set full --import-source yes -k regex:'suffixMerge|cascadeMma' -c 8 -f -o $OUT/cascade $J -Dattn.cascadeOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
if [ -f $OUT/cascade.ncu-rep ]; then
  ncu -i $OUT/cascade.ncu-rep --page details > $OUT/ncu-details.txt 2>&1
  ncu -i $OUT/cascade.ncu-rep --page raw --csv 2>&1 | gzip > $OUT/ncu-raw.csv.gz
  ncu -i $OUT/cascade.ncu-rep --page source --csv --print-source sass 2>&1 | gzip > $OUT/ncu-source.csv.gz
fi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/gpu.txt 2>&1
s=$(date +%s); RUNS="workload2-nbi profile-w2-nbi" bash $D/final-run.sh $D; echo "final-run rc=$? $(( $(date +%s) - s )) s" >> $OUT/times.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/gpu.txt 2>&1
cat $OUT/times.txt; grep -E "tests (successful|failed)|FAILED|cascade vs paged|AssertionFailed" $OUT/tests.log | head -20
grep -E "seqs|suffix|variants" $OUT/bench.log | head -60
grep -E "Duration|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Executed Instructions  |Issue Slots Busy|DRAM Throughput|suffixMerge|cascadeMma" $OUT/ncu-details.txt 2>/dev/null | head -90
