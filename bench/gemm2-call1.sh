#!/usr/bin/env bash
# Run 16-gemm2, call 1 (on the GPU machine, carrying .dev-gemm2 from bench/gemm-bundle.sh): the tile /
# K-slice / X-conversion sweep (GemmBench sweep), then cuBLAS alone on the benchmark's shapes.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; D=${D:-.dev-gemm2}
tar xJf $D/jre.tar.xz -C /tmp
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
timeout ${T_SWEEP:-110} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench sweep > "$OUT/sweep.txt" 2>&1
echo "sweep exit $?"; grep -E "^best|SWEEPRES|Exception|Error" "$OUT/sweep.txt" | head -60
PYTHONUNBUFFERED=1 timeout ${T_PEER:-70} python3 bench/peers/gemm_torch.py --alone > "$OUT/cublas.txt" 2>&1
echo "peer exit $?"; grep -v "^PEER" "$OUT/cublas.txt" | tail -82
