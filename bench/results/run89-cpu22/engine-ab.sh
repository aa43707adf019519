#!/usr/bin/env bash
# Run 89-cpu22: the peer script's Arbor commands (bench/peers/llamacpp.sh), -Darbor.cpu.weightAddress=false|true in
# alternating pairs (order flipped every pair). Usage: engine-ab.sh PAIRS [b1|b8|shared ...]
set -u
root="$(cd "$(dirname "$0")/../../.." && pwd)"
M=$HOME/.cache/arbor-peers/llama.cpp/models/synthetic-100m
pairs=$1; shift
for p in $(seq 1 "$pairs"); do
  for what in "$@"; do
    order="false true"; [ $((p % 2)) = 0 ] && order="true false"
    for v in $order; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      case $what in
        b1|b8) out=$(ARBOR_JAVA_OPTS="-Darbor.cpu.weightAddress=$v" "$root/arbor" bench throughput --model "$M" --batch "${what#b}" \
                 --prompt-len 512 --output-len 128 --max-num-batched-tokens 512 --kv-cache-dtype bf16 2>/dev/null | grep -E '^(prefill|decode):' | tr '\n' ' ');;
        shared) out=$(ARBOR_JAVA_OPTS="-Darbor.cpu.weightAddress=$v" "$root/arbor" bench shared-prefix --model "$M" --groups 1 \
                 --prompts-per-group 16 --prefix-len 512 --suffix-len 32 --output-len 32 --modes auto --json --kv-cache-dtype bf16 2>/dev/null | grep '^{' | cut -c1-400);;
      esac
      echo "pair $p $what weightAddress=$v load $load: $out"
    done
  done
done
