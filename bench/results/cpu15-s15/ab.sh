#!/bin/bash
# A/B of -Darbor.cpu.panelActivationsOnce, same classes; args: rounds threads prompt steps batch
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH
R=$1 T=$2 P=$3 S=$4 B=$5
CP=/tmp/cpu15/classes:/tmp/cpu15/test-classes:$(cat /tmp/cpu15-models.cp)
for r in $(seq 1 $R); do
  for v in false true; do
    echo "round $r once=$v $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    timeout 400 java --add-modules jdk.incubator.vector -Darbor.cpu.threads=$T -Darbor.cpu.panelActivationsOnce=$v -cp $CP \
      dev.arbor.models.bench.SyntheticThroughput synthetic:100m $P $S $B cpu auto invariant bf16 2>&1 | grep -E '^(prefill|decode)'
  done
done
