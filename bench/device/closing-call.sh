#!/usr/bin/env bash
# The session's closing call (run 58 on): final-run.sh's closing rows, then the GPU tests with the time left, then (BENCHES=1) the
# kernel benches whose rows RESULTS quotes beside the engine figures (AttentionBench, FlashPrefillBench). From the repo root on the
# GPU machine, with the bundle of bench/device/closing-bundle.sh:
#   bash bench/device/closing-call.sh .device      ($OUT gets run.log, final-out*.tgz and one log per bench)
# Carry only .device/lib, .device/jre.tar.xz and .device/fixtures.tar.xz (helpers keep their own bundles under .device/).
# Session 16: the rows first, so every figure is measured whatever the tests take; AB_OPTS/AB_RUNS an A/B pass of the rows AB_RUNS with
# the JVM options AB_OPTS (reports under final-out-ab); the GPU tests (~350 in the kernels and accel packages plus the model/engine
# classes of final-run.sh) get DEADLINE (default 585 s from the start of this script) less the time the rows took.
# (Run 62, session 15: the tests first at T_TESTS=300 were cut with 5 classes/methods unreached; the rows took ~245 s.)
set -u
D=${1:-.device}
start=$(date +%s)
here="$(dirname "$0")"
RUNS=${RUNS:-"clocks throughput workload1 workload2 baichuan-w1 workload1-nbi workload2-nbi baichuan-w1-nbi prefill-nbi \
llama1b-b128-nbi throughput-b1-nbi"} bash "$here/final-run.sh" "$D"
[ -n "${AB_OPTS:-}" ] && JOPTS="$AB_OPTS" TAG=ab RUNS="${AB_RUNS:-workload1}" bash "$here/final-run.sh" "$D"
left=$(( ${DEADLINE:-585} - ($(date +%s) - start) - 15 ))
echo "closing-call.sh: $left s left for the GPU tests" | tee -a "$OUT/run.log"
[ "$left" -gt 30 ] && T_TESTS=$left TAG=tests RUNS="gpu-tests clocks" bash "$here/final-run.sh" "$D"
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
if [ "${BENCHES:-0}" = 1 ]; then
  timeout 45 $J -cp "$CP" dev.arbor.kernels.bench.AttentionBench > "$OUT/attention-bench.log" 2>&1; echo "rc=$?" >> "$OUT/attention-bench.log"
  timeout 30 $J -cp "$CP" dev.arbor.kernels.bench.FlashPrefillBench > "$OUT/flash-prefill-bench.log" 2>&1; echo "rc=$?" >> "$OUT/flash-prefill-bench.log"
fi
grep -h 'tests successful\|tests failed\|tests found' "$OUT/run.log" | head -5
