#!/usr/bin/env bash
# Run 39-casc8 (issue 11): AttentionBench (decode rows + the shared-prefix rows with the tensor-core shared level's forms: launch
# bounds 0/3, 1/2 key halves), workload 2 --no-batch-invariance (final-run.sh), then the GPU tests beside ncu of the cascade
# (default shared level + warp suffix, and the shared level as before) and of one batch-1 x 4k decode step.
# Carried bundle: .dev-casc8 (bench/device/bundle.sh --model tiny-llama3, this script inside). Files back: at most 8.
D=.dev-casc8
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=$OUT/meta.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,clocks.sm,clocks.mem --format=csv > $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
t bench 70 $J -cp $CP dev.arbor.kernels.bench.AttentionBench
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
s=$(date +%s); RUNS="workload2-nbi" bash $D/final-run.sh $D; echo "final-run rc=$? $(( $(date +%s) - s )) s" >> $M
# the GPU tests beside ncu (ncu's instruction counts do not depend on the tests' kernels; its durations and stalls may)
( t tests 90 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest ) &
TP=$!
mkdir -p /tmp/ncu
s=$(date +%s)
timeout 70 ncu --set full --import-source yes -k regex:'suffixMerge|cascadeMma' -c 8 -f -o /tmp/ncu/cascade $J -Dattn.cascadeOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > /tmp/ncu/cascade.log 2>&1
echo "ncu cascade rc=$? $(( $(date +%s) - s )) s" >> $M; s=$(date +%s)
timeout 40 ncu --set full --import-source yes -k regex:'decode' -c 1 -f -o /tmp/ncu/decode $J -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > /tmp/ncu/decode.log 2>&1
echo "ncu decode rc=$? $(( $(date +%s) - s )) s" >> $M
for r in cascade decode; do
  if [ -f /tmp/ncu/$r.ncu-rep ]; then
    ncu -i /tmp/ncu/$r.ncu-rep --page details > /tmp/ncu/$r-details.txt 2>&1
    ncu -i /tmp/ncu/$r.ncu-rep --page raw --csv > /tmp/ncu/$r-raw.csv 2>&1
    ncu -i /tmp/ncu/$r.ncu-rep --page source --csv --print-source sass > /tmp/ncu/$r-source.csv 2>&1
  fi
done
grep -E "^  [a-zA-Z].*\(|Duration|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Executed Instructions  |Issue Slots Busy|DRAM Throughput|Block Limit Registers|Waves Per SM|Local Memory Spilling" /tmp/ncu/cascade-details.txt /tmp/ncu/decode-details.txt > $OUT/ncu-summary.txt 2>&1
(cd /tmp/ncu && rm -f *.ncu-rep && tar czf $OUT/ncu.tgz .)
wait $TP
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
cat $M; grep -E "tests (successful|failed|found)|FAILED|cascade vs paged|AssertionFailed|logit" $OUT/tests.log | head -20
grep -E "decode bf16 +batch|seqs sharing|forms|warp per" $OUT/bench.log | head -70
grep -E "decode steps|wall" $OUT/run.log | head -6
