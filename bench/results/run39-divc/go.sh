#!/usr/bin/env bash
# Run 39-divc (session 8): accel's division/remainder-by-constant lowering. Bundle .dev-divc (lean) from branch divc.
set -u
D=.dev-divc
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true && CP=$(echo $D/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
M=$OUT/meta.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,clocks.mem --format=csv > $M 2>&1
t() { local name=$1 lim=$2; shift 2; local s=$(date +%s); timeout $lim "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? $(( $(date +%s) - s )) s" >> $M; }
mkdir -p $OUT/sass
for p in $D/ptx/*.ptx; do b=$(basename $p .ptx); ptxas -arch=sm_90a $p -o /tmp/$b.cubin && cuobjdump -sass /tmp/$b.cubin > $OUT/sass/$b.sass 2>&1
  echo "$b: $(grep -cE '^\s+/\*[0-9a-f]{4}\*/' $OUT/sass/$b.sass) SASS, MUFU.RCP $(grep -c 'MUFU.RCP' $OUT/sass/$b.sass), I2F.U32.RP $(grep -c 'I2F.U32.RP' $OUT/sass/$b.sass), IMAD.HI $(grep -c 'IMAD.HI' $OUT/sass/$b.sass)" >> $M; done
t bench 20 $J -Dattn.cascadeOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
t tests 150 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.accel dev.arbor.kernels
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> $M 2>&1
tar czf $OUT/sass.tgz -C $OUT sass && rm -rf $OUT/sass
cat $M; grep -E "tests (successful|failed|found|aborted)|finished after" $OUT/tests.log; grep -B2 -A8 "MethodSource\|✘" $OUT/tests.log | head -60
grep -E "seqs sharing|warp per" $OUT/bench.log | head -12
