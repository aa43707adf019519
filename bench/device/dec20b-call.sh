#!/usr/bin/env bash
# Run 74-dec20's follow-up (prepared, not run by dec20: its one call was spent): the device tests run 74's call cut (its 60 s
# ended inside AttentionGpuTest's cascade method, before the bulk method) and the L2-prefetch forms of DecodeBulkKernels
# (0 stages: DecodeKernels' own loads, the first 4 / 8 / 16 pages of K and V of each work-group's split asked of the L2 before
# the wait), interleaved with the default form row by row, issue 11's table. ~45 s of command.
# Bundle as run 74 (bench/device/bundle.sh --lean; the run tool copies the session checkout: put lib/ + jre.tar.xz + this script
# under its ignored .device/dec20b and carry that), then: bash .device/dec20b/call.sh .device/dec20b
set -u
D=${1:-.device}
L=/tmp/dec20b; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%T) $name" >> $L/timeline.txt
  timeout "$t" "$@" > $L/$name.log 2>&1; echo "rc=$?" >> $L/$name.log; tar czf $OUT/logs.tgz -C $L .
  { echo "== $name"; grep -E "tests (found|successful|failed)|^decode|copy|rc=|FAIL|SUCCESS|Exception|Error" $L/$name.log | head -150; } >> $OUT/summary.txt; }
run tests 40 $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
    'dev.arbor.kernels.attention.AttentionGpuTest#bulkCopiesGiveTheBitsOfTheGlobalLoadsOnTheDevice' \
    'dev.arbor.kernels.attention.AttentionGpuTest#smallSplitsAgreeWithTheReferenceAndKeepATokensBits' \
    'dev.arbor.kernels.attention.AttentionGpuTest#cascadeAtTheSeedsSharedPrefixShape'
run bench 40 $J -Dattn.decodeTable=true -Dattn.bulkForms=0:4:4,0:4:8,0:4:16,2:4:8 -cp $CP dev.arbor.kernels.bench.AttentionBench
cat $L/timeline.txt; cat $OUT/summary.txt
