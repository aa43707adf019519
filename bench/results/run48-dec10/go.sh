#!/usr/bin/env bash
# Run 48-dec10 (2026-12-01, H200, session 10): the one-warp decode kernel (handoff per-sequence pass) before/after, bits, workloads, ncu.
# Bundle: bench/device/bundle.sh of this branch (no fixtures) carried as .dev-dec10, with main's kernels jar in base/ (before) and the
# first commit's (copies + staged store + scale literal, without the ldmatrix address change) in alt/.   bash .dev-dec10/go.sh
# Back (<= 8 files): timeline.txt, decode.log (FlashDecodeBench before/alt/after, FlashPrefillBench before/after), tests.log, run.log + final-out.tgz (final-run.sh), ncu.tgz, w2-after-details.txt.
set -u
D=.dev-dec10
T0=$(date +%s)
L=/tmp/dec10-logs; mkdir -p $L
tar xJf $D/jre.tar.xz -C /tmp
export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
NOK=$(echo $D/lib/*.jar | tr ' ' '\n' | grep -v '/arbor-kernels-' | tr '\n' ':')
CPB=$NOK$(echo $D/base/arbor-kernels-*.jar)
CPA=$NOK$(echo $D/alt/arbor-kernels-*.jar)
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s $1" | tee -a $OUT/timeline.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $OUT/timeline.txt 2>&1
for v in before:$CPB alt:$CPA after:$CP; do
  step "decode-${v%%:*}"
  echo "===== FlashDecodeBench ${v%%:*}" >> $OUT/decode.log
  timeout 14 $J -cp ${v#*:} dev.arbor.kernels.bench.FlashDecodeBench >> $OUT/decode.log 2>&1; echo "rc=$?" >> $OUT/decode.log
done
for v in before:$CPB after:$CP; do
  step "prefill-${v%%:*}"
  echo "===== FlashPrefillBench ${v%%:*}" >> $OUT/decode.log
  timeout 12 $J -cp ${v#*:} dev.arbor.kernels.bench.FlashPrefillBench >> $OUT/decode.log 2>&1; echo "rc=$?" >> $OUT/decode.log
done
step gpu-tests
timeout 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.FlashHandoffGpuTest \
  dev.arbor.kernels.attention.FlashPrefillGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest > $OUT/tests.log 2>&1
echo "rc=$?" >> $OUT/tests.log
step workloads
RUNS="workload1 workload2" bash bench/device/final-run.sh $D
step ncu-after
timeout 25 ncu --set full -k regex:warpBf16 -c 2 -f -o $L/w2-after $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench handoff 434 790 752 2 > $L/w2-after-run.log 2>&1
echo "rc=$?" >> $L/w2-after-run.log
ncu -i $L/w2-after.ncu-rep --page details > $OUT/w2-after-details.txt 2>&1
ncu -i $L/w2-after.ncu-rep --page source --csv --print-source sass -k regex:warpBf16 --launch-skip 1 --launch-count 1 > $L/w2-after-sass.csv 2>&1
tar czf $OUT/ncu.tgz --exclude='*.ncu-rep' -C /tmp dec10-logs
step ncu-before
timeout $(( 140 - ($(date +%s) - T0) )) ncu --set full -k regex:warpBf16 -c 2 -f -o $L/w2-before $J -cp $CPB dev.arbor.kernels.bench.FlashDecodeBench handoff 434 790 752 2 > $L/w2-before-run.log 2>&1
echo "rc=$?" >> $L/w2-before-run.log
ncu -i $L/w2-before.ncu-rep --page details > $L/w2-before-details.txt 2>&1
ncu -i $L/w2-before.ncu-rep --page source --csv --print-source sass -k regex:warpBf16 --launch-skip 1 --launch-count 1 > $L/w2-before-sass.csv 2>&1
tar czf $OUT/ncu.tgz --exclude='*.ncu-rep' -C /tmp dec10-logs
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv >> $OUT/timeline.txt 2>&1
step done
