#!/usr/bin/env bash
# Run 27-gemm4, call 3: the invariant plan with the final time model (GemmBench invariant: now and before at M = 128..8192,
# 12 shapes), then seed workload 2 in the default mode again. Same bundle layout as bench/gemm4-call2.sh.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-gemm4
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout ${T_BENCH:-75} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench invariant > "$OUT/gemm-invariant.txt" 2>&1
echo "bench exit $?"; grep -E "invariant now|FAILED|Exception" "$OUT/gemm-invariant.txt" | sed 's/ \[[^]]*\]//g' | cut -c1-150
RUNS=workload2 bash $D/final-run.sh $D
grep -hE "^auto |decode steps|other steps|rc=" /tmp/final-out/workload2.log | cut -c1-200
