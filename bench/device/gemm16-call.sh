#!/usr/bin/env bash
# Run 64-gemm16's device call (session 16; issues 10, 12): the bf16 producers (-Darbor.gemm.bf16Producers).
# GPU tests (FusedKernelsGpuTest: the producers' kernels against fp32 kernel + conversion pass; Bf16ProducersGpuTest: the
# engine's logits with the producers on / off, both modes; FusedForwardGpuTest (fused with the producers against the plain forward) with
# the producers on), GemmBench bf16x (issue 10's table, fp32 X and bf16 X in the same plan, resources) + cuBLAS
# (gemm_torch.py) on the same rows, then the engine rows, main's kernels + models jars (.device/gemm16/main-lib) and this
# branch with the producers on, interleaved (main, on, on, main): seed workload 1 default and nbi, llama3.2-1b b128 × 512
# default and nbi, prefill 8 × 2048 nbi (the closing call's prefill row).
# From the repo root on the GPU machine: bash .device/gemm16/call.sh .device/gemm16   (logs: $OUT/logs.tgz, $OUT/summary.txt)
set -u
D=${1:-.device}
L=/tmp/gemm16; mkdir -p $L /tmp/o
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPM=$(echo "$CP" | sed "s#$D/lib/arbor-kernels-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-kernels-0.1.0-SNAPSHOT.jar#; s#$D/lib/arbor-models-0.1.0-SNAPSHOT.jar#$D/main-lib/arbor-models-0.1.0-SNAPSHOT.jar#")
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
ON="-Darbor.gemm.bf16Producers=true"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
PF="throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|Bf16ProducersGpuTest|tensor map|FAILED|tokens/s|tok/s|device|rc=|Exception|wall" $L/$name.log | cut -c1-300 | head -30; } >> $OUT/summary.txt; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks.txt
run tests ${T_TESTS:-80} $J $ON -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.layer.FusedKernelsGpuTest \
  dev.arbor.models.Bf16ProducersGpuTest dev.arbor.models.FusedForwardGpuTest
run bench ${T_BENCH:-75} $J -cp $CP dev.arbor.kernels.bench.GemmBench bf16x
run peer ${T_PEER:-45} python3 bench/peers/gemm_torch.py $L/bench.log
run w1-main 35 $J -cp $CPM dev.arbor.server.Main bench $W1 --out /tmp/o/w1-main
run w1-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $W1 --out /tmp/o/w1-on
run w1nbi-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/w1nbi-on
run w1nbi-main 35 $J -cp $CPM dev.arbor.server.Main bench $W1 --no-batch-invariance --out /tmp/o/w1nbi-main
run 1b-main 25 $J -cp $CPM dev.arbor.server.Main bench $B1 --out /tmp/o/1b-main
run 1b-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B1 --out /tmp/o/1b-on
run 1bnbi-on 25 $J $ON -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out /tmp/o/1bnbi-on
run 1bnbi-main 25 $J -cp $CPM dev.arbor.server.Main bench $B1 --no-batch-invariance --out /tmp/o/1bnbi-main
run pf-main 35 $J -cp $CPM dev.arbor.server.Main bench $PF --out /tmp/o/pf-main
run pf-on 35 $J $ON -cp $CP dev.arbor.server.Main bench $PF --out /tmp/o/pf-on
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $L/clocks.txt
tar czf $OUT/logs.tgz -C $L . /tmp/o 2>/dev/null
cat $L/clocks.txt; cat $OUT/summary.txt
