#!/usr/bin/env bash
# Run 40-casc8 (issue 11): the final code — the shared level's form chosen by the launch's size, the warp suffix's block-table
# rows stepped without divisions — AttentionBench's shared-prefix rows, then the GPU tests. Carried bundle: .dev-casc8.
D=.dev-casc8
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=$OUT/meta.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,clocks.mem --format=csv > $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
t bench 40 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
t tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention.AttentionGpuTest dev.arbor.models.CascadeForwardGpuTest
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
cat $M; grep -E "tests (successful|failed|found)|FAILED|cascade vs paged|AssertionFailed|logit" $OUT/tests.log | head -20
grep -E "seqs sharing|forms|warp per" $OUT/bench.log | head -80
