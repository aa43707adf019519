#!/usr/bin/env bash
# Run 35-inv6's device call (bench/RESULTS.md): the invariant plan's new form bit-checked on the GPU, GemmBench sliced (its
# forms at llama-7b's shapes and the engine's token counts), the seed workloads in the default (batch-invariant) mode with
# the new form (-Darbor.gemm.slicedWide=true) and the TMA_64X2 slabs (-Darbor.gemm.invariantNarrow=true), workload 2's op
# profile in the default mode, then ncu of the sliced kernel against the plain TMA_128 kernel at 512 tokens.
# From the repo root on the GPU machine: bash DIR/inv6-call.sh DIR   (DIR = the carried bundle, no fixtures)
set -u
D=${1:-.dev-inv6}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
NEW="-Darbor.gemm.slicedWide=true -Darbor.gemm.invariantNarrow=true"
R=/tmp/inv6-out; mkdir -p $R
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: $*" >> "$OUT/call.log"
  timeout "$t" "$@" > "$OUT/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$OUT/$name.log"; tail -1 "$OUT/$name.log" >> "$OUT/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$OUT/clocks-before.txt" 2>&1
step gpu-tests ${T_TESTS:-45} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#hopperFormsAboveSixtyFourTokensEqualTheMmaSyncSlabPlan'
step bench ${T_BENCH:-45} $J -cp $CP dev.arbor.kernels.bench.GemmBench sliced
step workload2 45 $J $NEW -cp $CP dev.arbor.server.Main bench $W2 --model $M --out $R/w2
step profile-w2 60 $J $NEW -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --model $M --out $R/prof-w2
step workload1 30 $J $NEW -cp $CP dev.arbor.server.Main bench $W1 --model $M --out $R/w1
step ncu ${T_NCU:-40} ncu --set full -k regex:wgmmaTma -c 6 $J -cp $CP dev.arbor.kernels.bench.GemmBench ncu
step baichuan-w1 45 $J $NEW -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --out $R/bc-w1
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$OUT/clocks-after.txt" 2>&1
tar czf "$OUT/reports.tgz" -C /tmp inv6-out
