#!/usr/bin/env bash
# Run 48-b1-10's device call (bench/RESULTS.md): the decode attention's overlapped launch in the layer chain, the batch-1
# GEMM forms, the engine's b1 rows (nbi with the paged kernel's overlap forced on / off), and llama3.2-1b b128 nbi with
# this tree's jars against run 40's (main 590e926, in $D/old/) for the host-time question. Every log goes straight into
# /tmp/b1logs and $OUT/logs.tgz is remade after each step (a cut call keeps what ran).
# Usage on the device machine, from the repository root: bash .dev-b1-10/b1-10-call.sh .dev-b1-10
# As run (run 48-b1-10): the jars carried -Darbor.paged.pdl=on|off (PagedAttention's launch forced overlapped / plain) and
# GemmBench's "b1" mode (SMALL slabs against a 32-row tile and twice the slices); both were measurement only and were removed
# after the call (the overlap stays on at every size; the 32-row tile was no faster). The old jars ($D/old/) are main
# 590e926's (run 40's) arbor-*.jar, built with `mvn -o package -DskipTests` in a detached worktree. nsys was not on the machine.
set -u
D=${1:-.dev-b1-10}
L=/tmp/b1logs; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
CP_OLD=$(ls "$D"/lib/*.jar | grep -v -e '/arbor-' -e 'test-classes' | tr '\n' ':')$(echo "$D"/old/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name (limit ${t}s)" >> $L/timeline.txt
  timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; echo "   $(date -u +%H:%M:%S) done $name" >> $L/timeline.txt
  tar czf "$OUT/logs.tgz" -C /tmp b1logs; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step chain 45 $J -Dattn.chainOnly=true -cp $CP dev.arbor.kernels.bench.AttentionBench
step gemm-b1 35 $J -cp $CP dev.arbor.kernels.bench.GemmBench b1
B1="throughput --model synthetic:llama-7b --device cuda --prompt-len 128 --output-len 256"
step b1-nbi-pdl-on 30 $J -Darbor.paged.pdl=on -cp $CP dev.arbor.server.Main bench $B1 --batch 1,1 --no-batch-invariance --out $L/o1
step b1-nbi-pdl-off 30 $J -Darbor.paged.pdl=off -cp $CP dev.arbor.server.Main bench $B1 --batch 1,1 --no-batch-invariance --out $L/o2
B128="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance"
step 1b-b128-new-1 20 $J -cp $CP dev.arbor.server.Main bench $B128 --out $L/o3
step 1b-b128-old-1 20 $J -cp $CP_OLD dev.arbor.server.Main bench $B128 --out $L/o4
step 1b-b128-new-2 20 $J -cp $CP dev.arbor.server.Main bench $B128 --out $L/o5
step 1b-b128-old-2 20 $J -cp $CP_OLD dev.arbor.server.Main bench $B128 --out $L/o6
step b1-default 35 $J -cp $CP dev.arbor.server.Main bench $B1 --batch 1,1,1 --out $L/o7
# the b1 step's kernels, one graph replay's timeline (nsys, when the machine has it)
if command -v nsys >/dev/null; then
  step nsys-b1 45 nsys profile --cuda-graph-trace=node -t cuda -o $L/b1 -f true $J -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b \
      --device cuda --batch 1 --prompt-len 128 --output-len 24 --out $L/o10
  step nsys-stats 30 nsys stats -q --report cuda_gpu_trace --format csv -o $L/b1 $L/b1.nsys-rep
  rm -f $L/b1.nsys-rep $L/b1.sqlite; gzip -f $L/b1*.csv 2>/dev/null; tar czf "$OUT/logs.tgz" -C /tmp b1logs
else echo "no nsys" >> $L/timeline.txt; fi
step b1-4k-pdl-off 30 $J -Darbor.paged.pdl=off -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 4000 --output-len 64 --out $L/o8
step b1-4k-pdl-on 30 $J -Darbor.paged.pdl=on -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 4000 --output-len 64 --out $L/o9
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
tar czf "$OUT/logs.tgz" -C /tmp b1logs
