#!/bin/bash
# The table from this worktree's jar, PanelGemm's shared activations off (= main's CPU path) and on, alternately
cd /work/wt/cpu15
for pair in 1 2 3; do
  for v in false true; do
    echo "=== pair $pair panelActivationsOnce=$v $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    JAVA_TOOL_OPTIONS="-Darbor.cpu.panelActivationsOnce=$v" RUNS=1 ARBOR_ARGS="--kv-cache-dtype bf16" timeout 600 bash bench/peers/llamacpp.sh bench 2>&1
  done
done
echo "=== done $(date -u +%T)"
