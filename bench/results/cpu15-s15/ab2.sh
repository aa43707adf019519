#!/bin/bash
# Engine A/B of -Darbor.cpu.panelActivationsOnce, same classes, default two threads; args: rounds prompt steps batch
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH
R=$1 P=$2 S=$3 B=$4
M=$HOME/.cache/arbor-peers/llama.cpp/models/synthetic-100m
CP=/tmp/cpu15/classes:/tmp/cpu15/test-classes:$(cat /tmp/cpu15-models.cp)
for r in $(seq 1 $R); do
  for v in false true; do
    echo "round $r once=$v $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    timeout 300 java --add-modules jdk.incubator.vector -Darbor.cpu.panelActivationsOnce=$v -cp $CP \
      dev.arbor.models.bench.SyntheticThroughput $M $P $S $B cpu auto invariant bf16 2>&1 | grep -E '^(prefill|decode|synthetic|.* on cpu)'
  done
done
