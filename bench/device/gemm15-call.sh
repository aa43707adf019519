#!/usr/bin/env bash
# Run 61-gemm15's device call (session 15): stream-K for the few-tile GEMMs (issues 10, 12). GPU tests (GemmStreamKGpuTest: stream-K
# against the reference and the plain kernel; GemmGpuTest; GemmPersistentGpuTest), GemmBench few (at issue 10's points below 80% and
# llama3.2-1b's M = 128 products: main's plan (stream-K off = main's plan, the other kernels' PTX as main's), stream-K on each TMA
# tile, the narrow tiles, the ping-pong plan, the stream-K rule, main's plan again, bf16 X; then the lean issue-10 table: the
# default plan at 12 shapes × M in {1..64, 512, 2048, 8192} + the 1b products at 128), cuBLAS on the same rows (gemm_torch.py),
# then the engine row llama3.2-1b b128 nbi as main (stream-K off) and with -Darbor.gemm.streamK=true.
# From the repo root on the GPU machine: bash .device/gemm15/call.sh .device/gemm15   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/gemm15; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^few |stream-K .* differ|FAILED|slowest|tokens/s|tok/s|device ms|rc=|Exception" $L/$name.log | cut -c1-400 | head -40; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests ${T_TESTS:-45} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmStreamKGpuTest dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmPersistentGpuTest
run bench ${T_BENCH:-80} $J -cp $CP dev.arbor.kernels.bench.GemmBench few
run peer ${T_PEER:-45} python3 bench/peers/gemm_torch.py $L/bench.log
run 1b-nbi-main ${T_ENG:-30} $J -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-nbi-main
run 1b-nbi-sk ${T_ENG:-30} $J -Darbor.gemm.streamK=true -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-nbi-sk
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
