#!/usr/bin/env bash
# Run 54-inv11: the rule that landed (a75a041: one-slice weights on the default plan's TMA_256X3 / ping-pong tiles, the sliced
# weights as before) — its GPU bit test, then seed workload 2 with it and without (-Darbor.gemm.invariantDefaultTiles=false),
# interleaved, and workload 1 with it, in the default mode. From the repo root: bash DIR/inv11-call2.sh DIR
set -u
D=${1:-.dev-inv11}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=$OUT; R=/tmp/inv11-reports; mkdir -p $R
log() { echo "== $(date -u +%T) $*" | tee -a $L/call.log; }
clocks() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt 2>&1; }
clocks
log tests; timeout ${T_TESTS:-15} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#oneSliceWeightsOnTheDefaultPlansTilesKeepTheBits' > $L/gpu-tests.log 2>&1; echo "rc=$?" >> $L/gpu-tests.log
W="shared-prefix --groups 1 --output-len 30 --modes auto --device cuda --model synthetic:llama-7b"
W2="--prompts-per-group 500 --prefix-len 752 --suffix-len 28"
W1="--prompts-per-group 107 --prefix-len 530 --suffix-len 20"
for r in ${RUNS:-w2-now w2-before w1-now}; do
  case $r in
    w2-now) O=""; A="$W2" ;; w2-before) O="-Darbor.gemm.invariantDefaultTiles=false"; A="$W2" ;;
    w1-now) O=""; A="$W1" ;; w1-before) O="-Darbor.gemm.invariantDefaultTiles=false"; A="$W1" ;;
  esac
  log $r; timeout ${T_W:-30} $J $O -cp $CP dev.arbor.server.Main bench $W $A --out $R/$r >> $L/w.log 2>&1; echo "rc=$?" >> $L/w.log
done
clocks; log done
tar czf $OUT/reports.tgz -C /tmp inv11-reports
grep -E "tests (found|successful|failed)|elements differ" $L/gpu-tests.log; grep -E "^== |auto total s|auto decode device|auto prefill/mixed device" $L/w.log
