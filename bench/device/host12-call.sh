#!/usr/bin/env bash
# Run 57-host12's one device call (issue 12, host overhead a step): this branch's jars against main's (41571b3) kernels and
# models jars (.device/main-lib/, the only modules the branch changes), interleaved in one call: llama3.2-1b b128 (default
# mode), seed workload 2, the cascade / graph GPU tests, then seed workload 1 if time is left. Each row's StepTimings (host
# phases a step) are in its log. From the repo root on the GPU machine: bash bench/device/host12-call.sh DIR
set -u
D=${1:-.device}
L=/tmp/host12; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CPB=$(echo "$D"/lib/*.jar | tr ' ' '\n' | grep -v 'arbor-kernels-\|arbor-models-0.1.0-SNAPSHOT.jar' | tr '\n' ':')$(echo "$D"/main-lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda --model $M"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda --model $M"
B1B="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/host12-logs.tgz -C /tmp host12; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step 1b-after 14 $J -cp $CP dev.arbor.server.Main bench $B1B --out $L/1b-after
step 1b-before 14 $J -cp $CPB dev.arbor.server.Main bench $B1B --out $L/1b-before
pack
step w2-after 24 $J -cp $CP dev.arbor.server.Main bench $W2 --out $L/w2-after
step w2-before 24 $J -cp $CPB dev.arbor.server.Main bench $W2 --out $L/w2-before
pack
step gpu-tests 22 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.CascadeForwardGpuTest dev.arbor.models.CudaGraphGpuTest
pack
step w1-after 20 $J -cp $CP dev.arbor.server.Main bench $W1 --out $L/w1-after
step w1-before 20 $J -cp $CPB dev.arbor.server.Main bench $W1 --out $L/w1-before
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h 'decode steps\|replayed\|tok/s\|tests successful\|tests failed\|tests found' $L/*.log | cut -c1-400 | head -60
