#!/usr/bin/env bash
# Run 43-gemv9 (one device call): the invariant plan's K slices by one resident wave of one token's SMALL blocks (8 for
# llama-7b's o and down, 3 for q|k|v) against the rule before (two waves: 5, 2; -Darbor.gemm.twoWaveSlices=true, measurement
# only): GemmBench slices (both rules at 1-2048 tokens, and the X forms at 2-16 tokens), llama-7b batch 1 both ways
# (final-run.sh throughput-b1), the GPU tests of the code touched, then profile-b1. (The property was removed after the run,
# with the rule refined: q|k|v kept at 2 slices, see Gemm.invariantSlices; X converted first at 2-16 tokens in one slice.) Logs go to /tmp/gemv9, tarred into
# $OUT/gemv9-logs.tgz after every step (a cut-short call keeps them); at most 8 files come back.
#   bash DIR/gemv9-call.sh DIR     (DIR = bench/device/bundle.sh minus fixtures, JUnit console, jqwik; with this script and final-run.sh)
set -u
D=${1:-.dev-gemv9}
tar xJf "$D/jre.tar.xz" -C /tmp; [ -f "$D/fixtures.tar.xz" ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
L=/tmp/gemv9; mkdir -p $L
FINAL_OUT=$OUT
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$L/timeline.txt"; }
save() { tar czf "$FINAL_OUT/gemv9-logs.tgz" -C /tmp gemv9; cp "$L/timeline.txt" "$FINAL_OUT/" 2>/dev/null; }
clk() { nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,clocks_throttle_reasons.active --format=csv,noheader >> "$L/clocks.txt" 2>&1; echo "  ($1)" >> "$L/clocks.txt"; }
clk start
step slices
timeout 45 $J -cp $CP dev.arbor.kernels.bench.GemmBench slices > "$L/slices.txt" 2>&1; echo "slices rc=$?" | tee -a "$L/timeline.txt"
grep -E "M=|copy|FAIL|skipped" "$L/slices.txt" | cut -c1-330; clk after-slices; cp "$L/slices.txt" "$FINAL_OUT/"; save
step throughput-b1
OUT=$L RUNS="throughput-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; mv $L/run.log $L/run-b1.log; grep -E "tok/s|device" $L/run-b1.log | cut -c1-220 | head -8; save
step throughput-b1-twowave
OUT=$L TAG=twowave JOPTS=-Darbor.gemm.twoWaveSlices=true RUNS="throughput-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; mv $L/run.log $L/run-b1-twowave.log
grep -E "tok/s|device" $L/run-b1-twowave.log | cut -c1-220 | head -8; save
step tests
timeout 35 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.FusedForwardGpuTest dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.kernels.gemm.GemmInvarianceGpuTest dev.arbor.kernels.gemm.GemmGpuTest \
  > "$L/tests.log" 2>&1; echo "tests rc=$?" | tee -a "$L/timeline.txt"
grep -E "tests (found|successful|failed)|^SUCCESSFUL|^FAILED|FAIL|✘" "$L/tests.log" | cut -c1-200 | head -30; save
step profile-b1
OUT=$L RUNS="profile-b1" bash "$D/final-run.sh" "$D" > /dev/null 2>&1; mv $L/run.log $L/run-prof.log; grep -A13 "op profile, decode" $L/run-prof.log | cut -c1-160
clk end; step done; save
