#!/usr/bin/env bash
# The session's closing call (run 58 on): final-run.sh's closing rows, then the kernel benches whose rows RESULTS quotes
# beside the engine figures (AttentionBench: paged / cascade / GQA decode; FlashPrefillBench: causal prefill and the
# handoff rows). From the repo root on the GPU machine, with the bundle of bench/device/closing-bundle.sh:
#   bash bench/device/closing-call.sh .device      ($OUT gets run.log, final-out.tgz and one log per bench)
# Carry only .device/lib, .device/jre.tar.xz and .device/fixtures.tar.xz (helpers keep their own bundles under .device/).
# T_TESTS 280: run 58's 240 s cut the last GPU test class; throughput-b1-4k left out to keep the call under 600 s. Run 62 (session 15):
# T_TESTS=300 with throughput-nbi added took 572 s and the GPU tests (now ~345) were cut at 300 s: give them ~330 s and drop a row.
set -u
D=${1:-.device}
T_TESTS=${T_TESTS:-280} RUNS=${RUNS:-"clocks gpu-tests throughput workload1 workload2 baichuan-w1 workload2-nbi \
workload1-nbi throughput-nbi prefill-nbi llama1b-b128 llama1b-b128-nbi baichuan-w1-nbi clocks"} bash "$(dirname "$0")/final-run.sh" "$D"
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
timeout 45 $J -cp "$CP" dev.arbor.kernels.bench.AttentionBench > "$OUT/attention-bench.log" 2>&1; echo "rc=$?" >> "$OUT/attention-bench.log"
timeout 30 $J -cp "$CP" dev.arbor.kernels.bench.FlashPrefillBench > "$OUT/flash-prefill-bench.log" 2>&1; echo "rc=$?" >> "$OUT/flash-prefill-bench.log"
grep -h 'tests successful\|tests failed\|tests found' "$OUT/run.log" | head -5
