#!/usr/bin/env bash
# Run 44-gemv9 (a second, short device call on a warm machine): the rule that landed after run 43-gemv9 (o/down 8 slices, q|k|v
# 2; X converted first at 2-16 tokens for one-slice weights): GemmInvarianceGpuTest (with its one-slice test) and llama-7b
# batch 1 (final-run.sh throughput-b1). Logs in /tmp/gemv9b, tarred into $OUT/gemv9b-logs.tgz after every step.
#   bash DIR/gemv9-call2.sh DIR     (DIR = bench/device/bundle.sh minus fixtures, JUnit console, jqwik; with this script and final-run.sh)
set -u
D=${1:-.dev-gemv9}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=/tmp/gemv9b; mkdir -p $L
FINAL_OUT=$OUT
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$L/timeline.txt"; }
save() { tar czf "$FINAL_OUT/gemv9b-logs.tgz" -C /tmp gemv9b; }
step tests
timeout 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmInvarianceGpuTest > "$L/tests.log" 2>&1
echo "tests rc=$?" | tee -a "$L/timeline.txt"; grep -E "^SUCCESSFUL|^FAILED|FAIL|22016" "$L/tests.log" | cut -c1-220 | head -20; save
step throughput-b1
OUT=$L RUNS="throughput-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; grep -E "decode steps:|tokens/s \(" $L/run.log | cut -c1-200 | head -8
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv,noheader >> "$L/clocks.txt" 2>&1
step done; save
