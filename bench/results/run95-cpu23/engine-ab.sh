#!/usr/bin/env bash
# Issue 15's shared-prefix row (the peer script's Arbor command) with -Darbor.cpu.softmaxPasses=false|true, in pairs, order alternating.
M=${M:-$HOME/.cache/arbor-peers/llama.cpp/models/synthetic-100m}; PAIRS=${PAIRS:-4}
for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then order="false true"; else order="true false"; fi
  for v in $order; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    r=$(ARBOR_JAVA_OPTS="-Darbor.cpu.softmaxPasses=$v" ./arbor bench shared-prefix --model "$M" --groups 1 --prompts-per-group 16 \
      --prefix-len 512 --suffix-len 32 --output-len 32 --modes auto --json --kv-cache-dtype bf16 2>/dev/null | grep '^{')
    echo "pair $i passes=$v load=$l $(echo "$r" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print("total %.3f s | %s | %s" % (d["totalSeconds"], d["decodeSteps"].split(";")[0], d["otherSteps"].split(";")[0]))')"
  done
done
