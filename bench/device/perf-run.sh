#!/usr/bin/env bash
# The performance run of issue 12 on the GPU machine: GPU tests of the CUDA-graph path, Arbor's benchmarks and the
# engine-level peer, one after another on the same GPU. From the repo root there:
#   bash DIR/perf-run.sh DIR      (DIR = the carried bundle: jre.tar.xz, lib/, fixtures.tar.xz with tiny-llama3 and
#                                  tiny-baichuan2-13b, engine_torch.py; build it with bench/device/bundle.sh)
# Logs and reports go to /tmp/perf-out; $OUT gets run.log (every log, in order) and perf-out.tgz (JSON reports too):
# the run tool returns at most 8 files.
set -u
D=${1:-.device}
RUN_OUT=$OUT; OUT=/tmp/perf-out; mkdir -p $OUT
tar xJf "$D/jre.tar.xz" -C /tmp && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true PYTHONUNBUFFERED=1
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B="$J -cp $CP dev.arbor.server.Main bench"
PEER=${PEER:-$D/engine_torch.py}
stamp() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$OUT/timeline.txt"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
stamp gpu-tests
timeout ${T_TESTS:-75} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.CudaGraphGpuTest \
  dev.arbor.engine.EngineGpuTest > "$OUT/gpu-tests.log" 2>&1; echo "rc=$?" >> "$OUT/gpu-tests.log"
stamp peer
timeout ${T_PEER:-75} python3 "$PEER" --json "$OUT/peer.json" > "$OUT/peer.log" 2>&1; echo "rc=$?" >> "$OUT/peer.log"
stamp throughput
timeout ${T_TP:-55} $B throughput --model synthetic:llama-7b --device cuda --batch 1,32 --prompt-len 128 --output-len 256 --out "$OUT" \
  --peer "$OUT/peer.json" > "$OUT/throughput.log" 2>&1; echo "rc=$?" >> "$OUT/throughput.log"
stamp workload-1
timeout ${T_W1:-35} $B shared-prefix --model synthetic:llama-7b --device cuda --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 \
  --output-len 30 --modes auto --out "$OUT" --peer "$OUT/peer.json" > "$OUT/workload1.log" 2>&1; echo "rc=$?" >> "$OUT/workload1.log"
stamp workload-2
timeout ${T_W2:-50} $B shared-prefix --model synthetic:llama-7b --device cuda --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 \
  --output-len 30 --modes auto --out "$OUT" --peer "$OUT/peer.json" > "$OUT/workload2.log" 2>&1; echo "rc=$?" >> "$OUT/workload2.log"
stamp llama3.2-1b-b128
timeout ${T_1B:-50} $B throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --out "$OUT" \
  > "$OUT/throughput-1b.log" 2>&1; echo "rc=$?" >> "$OUT/throughput-1b.log"
stamp prefill-8x2048
timeout ${T_PF:-50} $B throughput --model synthetic:llama-7b --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 \
  --out "$OUT" --peer "$OUT/peer.json" > "$OUT/prefill.log" 2>&1; echo "rc=$?" >> "$OUT/prefill.log"
stamp serve
timeout ${T_SERVE:-90} $B serve --model synthetic:llama-7b --device cuda --rates 4,16,64 --requests 64 --system-prompts 4 --system-len 512 \
  --suffix-len 32 --output-len 64 --out "$OUT" > "$OUT/serve.log" 2>&1; echo "rc=$?" >> "$OUT/serve.log"
stamp eager-b1
timeout ${T_EAGER:-30} $B throughput --model synthetic:llama-7b --device cuda --batch 1 --prompt-len 128 --output-len 64 --no-cuda-graphs \
  --out "$OUT/eager" > "$OUT/throughput-eager.log" 2>&1; echo "rc=$?" >> "$OUT/throughput-eager.log"
stamp done
for f in gpu.txt timeline.txt gpu-tests.log peer.log throughput.log workload1.log workload2.log throughput-1b.log prefill.log serve.log throughput-eager.log; do
  [ -f "$OUT/$f" ] && { echo "===== $f"; cat "$OUT/$f"; } >> "$RUN_OUT/run.log"
done
tar czf "$RUN_OUT/perf-out.tgz" -C /tmp perf-out
