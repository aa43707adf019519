#!/usr/bin/env bash
# Run 57-gqa12's second call (commit 3610ad0: the paged pass only past nbiFlashBelow): the 1b b128 x 512 nbi rows before
# (-Darbor.cuda.nbiFlashBelow=0) and after, the new path's GPU test (call 1's two before rows are this code's too). bash bench/device/gqa12-call2.sh DIR
set -u
D=${1:-.device}
L=/tmp/gqa12b; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/gqa12b-logs.tgz -C /tmp gqa12b; }
step 1b-nbi-before 25 $J -Darbor.cuda.nbiFlashBelow=0 -cp $CP dev.arbor.server.Main bench $B1 --out $L/before
step 1b-nbi-after 25 $J -cp $CP dev.arbor.server.Main bench $B1 --out $L/after
pack
step gpu-test 30 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.NbiFlashDecodeGpuTest
pack
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h 'decode steps:\|decode:  \|tests successful\|tests failed\|max |logit' $L/*.log | head -30
