#!/usr/bin/env bash
# Run 43-clus9's device call (bench/RESULTS.md): thread-block clusters on the GPU (GpuConformanceTest's clusterTma case among
# the suite), the cluster GEMM's bits against the plans without clusters (GemmClusterGpuTest) and the invariant plan's cluster
# forms against its mma.sync slab plan (GemmInvarianceGpuTest), GemmBench cluster (M in {512, 2048, 8192} at issue 10's shapes,
# llama-7b's at 16,384, the invariant plan at 256-2048: each plan without clusters, in clusters, without again), the
# torch.matmul (cuBLAS) peer on the same shapes, then ncu of TMA_256 / TMA_256X3 without and with clusters (GemmBench
# ncu-cluster). Files straight to $OUT (at most 8 come back).
# From the repo root on the GPU machine: bash DIR/clus9-call.sh DIR   (DIR = the carried lean bundle, no fixtures)
# Ran at d609d26 (run 43-clus9) and 80c175b (run 44-clus9, T_PEER=0, ncu -c 5: the cluster kernels' forms side by side);
# the cluster GEMM kernels, GemmClusterGpuTest and GemmBench's cluster modes were removed after (measured no faster).
set -u
D=${1:-.dev-clus9}
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
R=$OUT
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name: $*" >> "$R/call.log"
  timeout "$t" "$@" > "$R/$name.log" 2>&1; echo "rc=$? $(date -u +%T)" >> "$R/$name.log"; tail -1 "$R/$name.log" >> "$R/call.log"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv > "$R/clocks.txt" 2>&1
step gpu-tests ${T_TESTS:-40} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  'dev.arbor.kernels.gemm.GemmClusterGpuTest' \
  'dev.arbor.kernels.gemm.GemmInvarianceGpuTest#hopperFormsAboveSixtyFourTokensEqualTheMmaSyncSlabPlan' \
  dev.arbor.accel.GpuConformanceTest
step bench ${T_BENCH:-55} $J -cp $CP dev.arbor.kernels.bench.GemmBench cluster
if [ "${T_PEER:-30}" != 0 ]; then   # T_PEER=0: no cuBLAS peer (run 44-clus9 compares with run 43-clus9's)
  PYTHONUNBUFFERED=1 timeout ${T_PEER:-30} python3 $D/gemm_torch.py "$R/bench.log" > "$R/gemm-table.txt" 2>&1; echo "peer rc=$? $(date -u +%T)" >> "$R/call.log"
fi
step ncu ${T_NCU:-35} ncu --set full -k regex:wgmmaTma -c 5 $J -cp $CP dev.arbor.kernels.bench.GemmBench ncu-cluster
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv >> "$R/clocks.txt" 2>&1
