#!/usr/bin/env bash
# Issue 8 CPU before/after on a quiet machine: before = /work/wt-before (d2da450), after = /work/main (HEAD).
# Two interleaved rounds each; logs in $OUT.
set -u
OUT=${OUT:-/work/notes/s4/cpu-issue8-$(date -u +%H%M)}; mkdir -p "$OUT"
for round in 1 2; do
  for side in before after; do
    dir=/work/wt-before; [ $side = after ] && dir=/work/main
    cd $dir
    for b in 1 8; do
      echo "$(uptime)" > $OUT/$side-b$b-$round.log
      timeout 300 ./arbor bench throughput --model synthetic:100m --batch $b --device cpu >> $OUT/$side-b$b-$round.log 2>/dev/null
    done
    if [ $side = after ]; then
      echo "$(uptime)" > $OUT/$side-b8p-$round.log
      timeout 300 ./arbor bench throughput --model synthetic:100m --batch 8 --top-p 0.9 --device cpu >> $OUT/$side-b8p-$round.log 2>/dev/null
    fi
    echo "$(uptime)" > $OUT/$side-demo-$round.log
    timeout 300 ./arbor demo --no-progress >> $OUT/$side-demo-$round.log 2>&1
  done
done
grep -H -E "^(prefill|decode):|tokens in" $OUT/*.log
