#!/bin/bash
# Engine A/B of a boolean switch, same classes, default two threads; args: property rounds prompt steps batch
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH
PROP=$1 R=$2 P=$3 S=$4 B=$5
M=$HOME/.cache/arbor-peers/llama.cpp/models/synthetic-100m
CP=$(cat /tmp/cpu15b.cp)
for r in $(seq 1 $R); do
  for v in false true; do
    echo "round $r $PROP=$v $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    timeout 300 java --add-modules jdk.incubator.vector -D$PROP=$v -cp $CP \
      dev.arbor.models.bench.SyntheticThroughput $M $P $S $B cpu auto invariant bf16 2>&1 | grep -E '^(prefill|decode|.* on cpu)'
  done
done
