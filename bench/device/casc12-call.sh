#!/usr/bin/env bash
# Run 57-casc12's one device call, most important first: AttentionBench's cascade rows (the default own-range warp suffix against
# the split kernel's layout and the shared level's interleaved S mma, interleaved in one process), the cascade GPU tests, seed
# workload 2 nbi, ncu of one cascade step per form at 107 x 530 and 500 x 752, then workload 1 nbi (llama-7b, Baichuan2-13B). Logs go into $OUT after every step, so a
# timeout still returns them. From the repo root on the GPU machine: bash bench/device/casc12-call.sh DIR
set -u
D=${1:-.device}
L=/tmp/casc12; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="$J -cp $CP dev.arbor.server.Main bench"
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$? $(date -u +%H:%M:%S)" >> "$L/$name.log"; }
pack() { tar czf $OUT/casc12-logs.tgz -C /tmp casc12; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,power.draw,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step bench 25 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
pack
step tests 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu 'dev.arbor.kernels.attention.AttentionGpuTest#cascadeAtTheSeedsSharedPrefixShape' dev.arbor.models.CascadeForwardGpuTest
pack
step w2-nbi 25 $B $W2 --model synthetic:llama-7b --no-batch-invariance --out $L/w2-nbi
pack
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
step ncu 25 $NCU --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
    --metrics smsp__inst_executed.sum -k regex:'suffixMerge|cascadeMma' -c 12 \
    $J -Dattn.cascadeOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
pack
step w1-nbi 20 $B $W1 --model synthetic:llama-7b --no-batch-invariance --out $L/w1-nbi
pack
step bc-w1-nbi 35 $B $W1 --model synthetic:baichuan2-13b --no-batch-invariance --out $L/bc-w1-nbi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h 'sharing\|split kernel.s layout\|tests successful\|tests failed\|max |difference|\|Duration\|total\|rc=' $L/*.log | head -60
