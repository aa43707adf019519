#!/usr/bin/env bash
# Run 48-casc10 (one call): the attention GPU tests (cascade vs paged, the persistent shared level and the ready counts' bits),
# AttentionBench's shared-prefix rows (cascade vs paged vs floor, the new variants), seed workload 2 in nbi mode, and ncu of the
# 500 x 752 cascade step's two kernels (a short section set). Each log straight into $OUT. Bundle: bench/device/bundle.sh (no
# fixtures; junit console, jqwik, tokenizer/server/tests test classes and annotation jars dropped), carried as .dev-casc10.
D=${1:-.dev-casc10}
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=$OUT/meta.txt
date -u +%H:%M:%S > $M
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,clocks.mem --format=csv >> $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
t tests 60 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.attention dev.arbor.models.CascadeForwardGpuTest
t bench 45 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
t w2nbi 35 $J -cp $CP dev.arbor.server.Main bench shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 \
  --output-len 30 --modes auto --device cuda --model synthetic:llama-7b --no-batch-invariance --out /tmp/w2-nbi
tar czf $OUT/w2-nbi.tgz -C /tmp w2-nbi 2>/dev/null
t ncu 30 ncu --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
  -k regex:'suffixMerge|cascadeMma' --launch-skip 4 -c 2 $J -Dattn.cascadeOnly=true -Dattn.profileOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
date -u +%H:%M:%S >> $M
