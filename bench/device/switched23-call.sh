#!/usr/bin/env bash
# Session 23, lead: the five switch GPU tests after their shared parts moved into SwitchedRuns (models tests).
#   bash bench/device/switched23-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/switched23-out}; mkdir -p $OUT
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
timeout ${T:-130} /tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu \
  dev.arbor.models.EarlyTriggerGpuTest dev.arbor.models.ZeroInNormGpuTest dev.arbor.models.FusedNormGemvGpuTest \
  dev.arbor.models.PrologueNormGpuTest dev.arbor.models.QkvRopeEpilogueGpuTest > $OUT/tests.log 2>&1; echo "rc=$?" >> $OUT/tests.log
grep -E "GpuTest|tests (successful|failed|found)|rc=|FAILED|✘" $OUT/tests.log | grep -v "^\s*at " | head -40
