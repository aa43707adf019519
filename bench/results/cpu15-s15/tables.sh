#!/bin/bash
# The table, main's checkout and this branch's worktree alternately, one round each invocation
for pair in 1 2; do
  for tree in /work/main /work/wt/cpu15; do
    echo "=== pair $pair tree $tree $(date -u +%T) $(uptime | sed 's/.*load/load/')"
    (cd $tree && RUNS=1 ARBOR_ARGS="--kv-cache-dtype bf16" timeout 900 bash bench/peers/llamacpp.sh bench 2>&1)
  done
done
echo "=== done $(date -u +%T)"
