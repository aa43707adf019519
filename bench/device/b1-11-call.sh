#!/usr/bin/env bash
# Run 53-b1-11's one device call (jars of commit 6b59367, reverted by c05f489: the switch below and GemmSwiGluGpuTest are gone):
# the SwiGLU-on-load bits on the GPU, the batch-1 decode rows with the fused down projection against the SwiGLU launch before
# it (-Darbor.cuda.swiGluOnLoad=false), interleaved, in both modes, then one ncu pass over a short batch-1 run (graph nodes one
# by one, caches and clocks left alone) for the per-kernel timeline of a replayed step (now final-run.sh's timeline-b1 /
# timeline-b1-nbi). From the repo root on the GPU machine: bash bench/device/b1-11-call.sh DIR
set -u
D=${1:-.device}
L=/tmp/b1-11; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama-7b --device cuda --batch 1,1 --prompt-len 128 --output-len 256"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/b1-11-logs.tgz -C /tmp b1-11; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step gpu-tests 25 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmSwiGluGpuTest dev.arbor.kernels.layer.FusedKernelsGpuTest
pack
step b1-on 20 $J -cp $CP dev.arbor.server.Main bench $B1 --out $L/b1-on
step b1-off 20 $J -Darbor.cuda.swiGluOnLoad=false -cp $CP dev.arbor.server.Main bench $B1 --out $L/b1-off
pack
step nbi-on 20 $J -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/nbi-on
step nbi-off 20 $J -Darbor.cuda.swiGluOnLoad=false -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/nbi-off
pack
# per-kernel timeline: launches 400-1099 of a 5-token b1 run (past the prompt's ~350: two-plus replayed steps, graph nodes one by one)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
step ncu ${T_NCU:-35} $NCU --graph-profiling node --launch-skip 400 --launch-count 700 --cache-control none --clock-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file $L/ncu.csv \
    $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 5 --out $L/ncu-run
pack
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h 'replayed decode steps only\|tok/s\|Tests\|tests successful\|tests failed\|differ' $L/*.log | head -60
