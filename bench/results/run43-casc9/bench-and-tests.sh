#!/usr/bin/env bash
# What run 43-casc9 lost (its script copied the logs into $OUT only at its end, and the call hit its limit): the attention GPU
# tests, then AttentionBench before (main e5c7d0c's kernels jar + bench, in before/) and after (this branch), each log written
# straight into $OUT. About 75 s on a warm H200. Bundle: bench/device/bundle.sh (no fixtures) copied to .dev-casc9, with
# before/ holding main's arbor-kernels jar and kernels-test-classes.jar.
D=${1:-.dev-casc9}
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
CPB=$(echo $D/before/*.jar $(ls $D/lib/*.jar | grep -v 'arbor-kernels\|kernels-test-classes') | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=$OUT/meta.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,clocks.sm,clocks.mem --format=csv > $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
t tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention dev.arbor.models.CascadeForwardGpuTest
t bench-before 30 $J -cp $CPB dev.arbor.kernels.bench.AttentionBench
t bench-after 35 $J -cp $CP dev.arbor.kernels.bench.AttentionBench
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
