#!/usr/bin/env bash
# Run 53-inv11 (session 11): the invariant GEMM plan's session-11 forms on the H200 — GemmInvarianceGpuTest (their bits against
# the mma.sync slab plan), GemmBench inv11 (before / now / candidates at llama-7b's shapes), ncu of the sliced kernels, then
# seed workloads 2 (with and without the forms: -Darbor.gemm.invariantPingPong=false) and 1 in the default mode.
# From the repo root on the GPU machine: T_TESTS=.. T_BENCH=.. T_NCU=.. bash DIR/inv11-call.sh DIR  (DIR: a bench/device/bundle.sh bundle)
set -u
D=${1:-.dev-inv11}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=$OUT; R=/tmp/inv11-reports; mkdir -p $R   # logs straight into $OUT: a call cut short keeps them
log() { echo "== $(date -u +%T) $*" | tee -a $L/call.log; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt 2>&1; }
clocks
log tests; timeout ${T_TESTS:-30} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmInvarianceGpuTest > $L/gpu-tests.log 2>&1; echo "rc=$?" >> $L/gpu-tests.log
log bench; timeout ${T_BENCH:-35} $J -Dgemm.inv11M=${INV11_M:-434,512,2048} -cp $CP dev.arbor.kernels.bench.GemmBench inv11 > $L/bench.log 2>&1; echo "rc=$?" >> $L/bench.log
log ncu; timeout ${T_NCU:-25} ncu --section SpeedOfLight --section SchedulerStats --section WarpStateStats --section LaunchStats --section Occupancy \
  -k regex:wgmmaTmaSliced -c 6 $J -cp $CP dev.arbor.kernels.bench.GemmBench ncu-inv11 > $L/ncu.log 2>&1; echo "rc=$?" >> $L/ncu.log
W="shared-prefix --groups 1 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="--prompts-per-group 500 --prefix-len 752 --suffix-len 28"
W1="--prompts-per-group 107 --prefix-len 530 --suffix-len 20"
for r in ${RUNS:-w2-on w2-off w1-on}; do
  case $r in
    w2-on) O=""; A="$W2" ;; w2-off) O="-Darbor.gemm.invariantPingPong=false"; A="$W2" ;;
    w1-on) O=""; A="$W1" ;; w1-off) O="-Darbor.gemm.invariantPingPong=false"; A="$W1" ;;
  esac
  log $r; timeout ${T_W:-40} $J $O -cp $CP dev.arbor.server.Main bench $W $A --out $R/$r >> $L/w.log 2>&1; echo "rc=$?" >> $L/w.log
done
clocks; log done
tar czf $OUT/reports.tgz -C /tmp inv11-reports
grep -E "tests (found|successful|failed)" $L/gpu-tests.log; grep -E "^inv11 |FAILED" $L/bench.log; grep -E "^== |auto total s|auto decode device|auto prefill/mixed device" $L/w.log
