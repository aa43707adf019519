#!/usr/bin/env bash
# The L2 window experiment built in run 64-dec16 and not yet run (issue 12): GemmBench l2 — at M = 1 on llama-7b's q|k|v, o,
# gate|up and down, a window kernel (~1,000 / 3,000 spin rounds, -Dgemm.l2Windows) prefetching the first 0, 1/4, 1/2 or all of
# each W row into the L2 (cp.async.bulk.prefetch.L2), then the invariant plan's GEMM launched overlapping it; µs a (window +
# GEMM) and the window alone. ~20 s. Bundle: bench/device/bundle.sh --lean (no fixtures); copy .device/lib, .device/jre.tar.xz
# and this script (as call.sh) to /work/main/.device/NAME/, then: bash .device/NAME/call.sh .device/NAME
set -u
D=${1:-.device}
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv > $OUT/clocks.txt
timeout 60 $J -cp $CP dev.arbor.kernels.bench.GemmBench l2 > $OUT/l2.log 2>&1; echo "rc=$?" >> $OUT/l2.log
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $OUT/clocks.txt
cat $OUT/clocks.txt; grep -v '^CSV' $OUT/l2.log
