#!/usr/bin/env bash
# The session's closing GPU run on the merged tree: engine benchmarks with the defaults (batch-invariant: CUDA-core
# attention, invariant GEMM plan, CUDA graphs) and with --no-batch-invariance (tensor-core prefill attention, cascade
# attention for shared prefixes, split-K GEMM, wgmma prefill GEMM). From the repo root on the GPU machine:
#   bash bench/device/final-run.sh DIR     (DIR = the carried bundle of bench/device/bundle.sh, no fixtures needed)
# $OUT gets run.log (every log in order) and final-out.tgz (JSON reports).
set -u
D=${1:-.device}
RUN_OUT=$OUT; OUT=/tmp/final-out; mkdir -p $OUT
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="$J -cp $CP dev.arbor.server.Main bench"
M=synthetic:llama-7b
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name: ${*##*dev.arbor.server.Main }" | tee -a "$OUT/timeline.txt";
  timeout "$t" "$@" > "$OUT/$name.log" 2>&1; echo "rc=$?" >> "$OUT/$name.log"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
run throughput 60 $B throughput --model $M --device cuda --batch 1,32 --prompt-len 128 --output-len 256 --out "$OUT/tp"
run throughput-nbi 60 $B throughput --model $M --device cuda --batch 1,32 --prompt-len 128 --output-len 256 --no-batch-invariance --out "$OUT/tp-nbi"
run workload1 40 $B shared-prefix --model $M --device cuda --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --out "$OUT/w1"
run workload1-nbi 40 $B shared-prefix --model $M --device cuda --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --no-batch-invariance --out "$OUT/w1-nbi"
run workload2 55 $B shared-prefix --model $M --device cuda --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --out "$OUT/w2"
run workload2-nbi 55 $B shared-prefix --model $M --device cuda --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --no-batch-invariance --out "$OUT/w2-nbi"
run prefill-nbi 50 $B throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance --out "$OUT/pf-nbi"
run llama1b-b128-nbi 45 $B throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance --out "$OUT/1b-nbi"
echo "== $(date -u +%H:%M:%S) done" >> "$OUT/timeline.txt"
for f in gpu.txt timeline.txt throughput.log throughput-nbi.log workload1.log workload1-nbi.log workload2.log workload2-nbi.log prefill-nbi.log llama1b-b128-nbi.log; do
  [ -f "$OUT/$f" ] && { echo "===== $f"; cat "$OUT/$f"; } >> "$RUN_OUT/run.log"
done
tar czf "$RUN_OUT/final-out.tgz" -C /tmp final-out
