#!/usr/bin/env bash
# Run 43-casc9 (issue 11): the attention GPU tests beside ncu (the cascade's shared level + warp suffix at 500 x 752), AttentionBench before (main's kernels jar + bench) and after (this branch), then the engine:
# throughput-b1-4k and workload2-nbi (this branch). Carried bundle: .dev-casc9 (bench/device/bundle.sh, no fixtures), with
# before/ = main e5c7d0c's arbor-kernels jar and kernels-test-classes jar. At most 8 files come back: logs tarred.
D=.dev-casc9
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
CPB=$(echo $D/before/*.jar $(ls $D/lib/*.jar | grep -v 'arbor-kernels\|kernels-test-classes') | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=/tmp/logs; mkdir -p $L; M=$L/meta.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,clocks.sm,clocks.mem --format=csv > $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $L/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
# GPU tests beside ncu (ncu's instruction counts do not depend on the tests' kernels; its durations and stalls may)
( t tests 75 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention dev.arbor.models.CascadeForwardGpuTest ) &
TP=$!
mkdir -p /tmp/ncu; s=$(date +%s)
# cascadeOnly + profileOnly: per case the default form then another; skip 107 x 530's two of each kernel -> 500 x 752's default
timeout 45 ncu --set full --import-source yes -k regex:'suffixMerge|cascadeMma' --launch-skip 4 -c 2 -f -o /tmp/ncu/cascade $J -Dattn.cascadeOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench > /tmp/ncu/cascade.log 2>&1
echo "ncu cascade rc=$? $(( $(date +%s) - s )) s" >> $M
wait $TP
for r in cascade; do
  if [ -f /tmp/ncu/$r.ncu-rep ]; then
    ncu -i /tmp/ncu/$r.ncu-rep --page details > /tmp/ncu/$r-details.txt 2>&1
    ncu -i /tmp/ncu/$r.ncu-rep --page source --csv --print-source sass > /tmp/ncu/$r-source.csv 2>&1
  fi
done
grep -E "^  [a-zA-Z].*\(|Duration|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Executed Instructions  |Issue Slots Busy|DRAM Throughput|Block Limit Registers|Waves Per SM|Local Memory Spilling" /tmp/ncu/cascade-details.txt > $OUT/ncu-summary.txt 2>&1
(cd /tmp/ncu && rm -f *.ncu-rep && gzip -f *.txt *.csv && tar cf $OUT/ncu.tar .)
t bench-before 40 $J -cp $CPB dev.arbor.kernels.bench.AttentionBench
t bench-after 45 $J -cp $CP dev.arbor.kernels.bench.AttentionBench
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
s=$(date +%s); RUNS="throughput-b1-4k workload2-nbi" bash $D/final-run.sh $D; echo "final-run rc=$? $(( $(date +%s) - s )) s" >> $M
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
cp $M $L/tests.log $L/bench-before.log $L/bench-after.log $OUT/ 2>/dev/null
cat $M; grep -E "tests (successful|failed|found)|FAILED|cascade vs paged|AssertionFailed" $L/tests.log | head -20
grep -E "decode (bf16|gqa4) .*batch +1 ctx  4096|seqs sharing|launched plainly" $L/bench-before.log $L/bench-after.log | head -40
grep -E "decode steps|wall|tok/s" $OUT/run.log | head -8
