#!/usr/bin/env bash
# The session's closing GPU run on the merged tree: engine benchmarks with the defaults (batch-invariant: tensor-core
# attention below position 1,024 with the state-handoff cascade, CUDA-core paged attention above, invariant GEMM plan,
# CUDA graphs) and with --no-batch-invariance (tensor-core prefill attention, log-sum-exp cascade attention for shared
# prefixes, split-K GEMM, wgmma prefill GEMM). From the repo root on the GPU machine:
#   bash bench/device/final-run.sh DIR     (DIR = the carried bundle of bench/device/bundle.sh, no fixtures needed;
#   bench/device/closing-bundle.sh packs one with the fixtures gpu-tests reads)
# RUNS picks the runs, in the order given (default: the eight of the closing run), from: gpu-tests (needs fixtures.tar.xz
# with tiny-llama3 and tiny-baichuan2-13b) throughput throughput-b1 throughput-b1-4k throughput-nbi throughput-b1-unfused throughput-b1-nopdl workload1
# throughput-b1-nbi workload1-nbi workload2 workload2-nbi baichuan-w1 baichuan-w1-nbi prefill-nbi llama1b-b128 llama1b-b128-nbi llama1b-b128-nbi-budgets serve serve-8192 clocks,
# workload2-ab workload2-ab2 (AB=PROPERTY: seed workload 2 off/on in one JVM), and the op profiles
# (-Darbor.opProfile=true) profile-b1 profile-b32 profile-1b-b128-nbi profile-w1 profile-w1-nbi profile-bc-w1-nbi profile-w2 profile-w2-nbi,
# and the per-kernel timelines of a replayed b1 step (ncu) timeline-b1 timeline-b1-nbi. GPU_TESTS overrides the test classes/packages.
# "unfused" is -Darbor.cuda.fusion=false (every projection and element-wise stage its own launch), "nopdl"
# -Darbor.cuda.pdl=false (the fused kernels launched after the GEMM before them ends, not overlapping its tail).
# throughput-b1-4k: decode b1 after a 4000-token prompt (positions to 4063; synthetic:llama-7b takes 4096).
# JOPTS adds JVM options to every run (e.g. JOPTS=-Darbor.cuda.flashBelow=N); TAG names the reports of such a pass
# (final-out-TAG/, final-out-TAG.tgz) so that a second pass with other options keeps the first one's.
# $OUT gets run.log (every log in order) and final-out.tgz (JSON reports).
set -u
D=${1:-.device}
RUN_OUT=$OUT; OUT=/tmp/final-out${TAG:+-$TAG}; mkdir -p $OUT
[ -x /tmp/jre/bin/java ] || tar xJf "$D/jre.tar.xz" -C /tmp   # once a machine: closing-call.sh runs this script up to three times
[ -f "$D/fixtures.tar.xz" ] && [ ! -d /tmp/fixtures ] && tar xJf "$D/fixtures.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Darbor.fixtures=/tmp/fixtures -Dorg.slf4j.simpleLogger.defaultLogLevel=warn ${JOPTS:-}"
B="$J -cp $CP dev.arbor.server.Main bench"
M=synthetic:llama-7b
W1="shared-prefix --groups 1 --prompts-per-group 107 --prefix-len 530 --suffix-len 20 --output-len 30 --modes auto --device cuda"
W2="shared-prefix --groups 1 --prompts-per-group 500 --prefix-len 752 --suffix-len 28 --output-len 30 --modes auto --device cuda"
run() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name: ${*##*dev.arbor.server.Main }" | tee -a "$OUT/timeline.txt";
  timeout "$t" "$@" > "$OUT/$name.log" 2>&1; echo "rc=$?" >> "$OUT/$name.log"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
one() {
  case "$1" in
  gpu-tests) run gpu-tests ${T_TESTS:-150} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu ${GPU_TESTS:-dev.arbor.accel dev.arbor.kernels \
      dev.arbor.models.FusedForwardGpuTest dev.arbor.models.Bf16ProducersGpuTest dev.arbor.models.CudaGraphGpuTest dev.arbor.models.CascadeForwardGpuTest \
      dev.arbor.models.FlashPrefillModelGpuTest dev.arbor.models.InvariantFlashAttentionGpuTest dev.arbor.models.RopeAnglesGpuTest dev.arbor.models.backend.OpProfileGpuTest dev.arbor.models.NbiFlashDecodeGpuTest dev.arbor.models.StagedInputsGpuTest dev.arbor.engine.EngineGpuTest} ;;
  clocks) run clocks 10 nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv ;;
  # -Darbor.opProfile=true: device time per operation (eager launches behind a spin kernel; the tok/s printed are not comparable)
  profile-b1) run profile-b1 60 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench throughput --model $M --device cuda \
      --batch 1 --prompt-len 128 --output-len 32 --out "$OUT/prof-b1" ;;
  profile-b32) run profile-b32 60 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench throughput --model $M --device cuda \
      --batch 32 --prompt-len 128 --output-len 32 --out "$OUT/prof-b32" ;;
  profile-1b-b128-nbi) run profile-1b-b128-nbi 60 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b \
      --device cuda --batch 128 --prompt-len 512 --output-len 16 --no-batch-invariance --out "$OUT/prof-1b" ;;
  profile-w1) run profile-w1 60 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W1 --model $M --out "$OUT/prof-w1" ;;
  profile-w1-nbi) run profile-w1-nbi 60 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W1 --model $M --no-batch-invariance --out "$OUT/prof-w1-nbi" ;;
  profile-bc-w1-nbi) run profile-bc-w1-nbi 80 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W1 --model synthetic:baichuan2-13b --no-batch-invariance --out "$OUT/prof-bc-w1" ;;
  profile-w2) run profile-w2 90 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --model $M --out "$OUT/prof-w2d" ;;
  profile-w2-nbi) run profile-w2-nbi 90 $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench $W2 --model $M --no-batch-invariance --out "$OUT/prof-w2" ;;
  throughput) run throughput 70 $B throughput --model $M --device cuda --batch 1,1,1,32 --prompt-len 128 --output-len 256 --out "$OUT/tp" ;;
  throughput-nbi) run throughput-nbi 70 $B throughput --model $M --device cuda --batch 1,1,1,32 --prompt-len 128 --output-len 256 --no-batch-invariance --out "$OUT/tp-nbi" ;;
  throughput-b1-unfused) run throughput-b1-unfused 45 $J -Darbor.cuda.fusion=false -cp $CP dev.arbor.server.Main bench throughput --model $M --device cuda \
      --batch 1 --prompt-len 128 --output-len 256 --out "$OUT/tp-unfused" ;;
  throughput-b1) run throughput-b1 45 $B throughput --model $M --device cuda --batch 1,1,1 --prompt-len 128 --output-len 256 --out "$OUT/tp-b1" ;;
  throughput-b1-4k) run throughput-b1-4k 45 $B throughput --model $M --device cuda --batch 1 --prompt-len 4000 --output-len 64 --out "$OUT/tp-b1-4k" ;;
  throughput-b1-nbi) run throughput-b1-nbi 45 $B throughput --model $M --device cuda --batch 1,1,1 --prompt-len 128 --output-len 256 --no-batch-invariance --out "$OUT/tp-b1-nbi" ;;
  throughput-b1-nopdl) run throughput-b1-nopdl 45 $J -Darbor.cuda.pdl=false -cp $CP dev.arbor.server.Main bench throughput --model $M --device cuda \
      --batch 1 --prompt-len 128 --output-len 256 --out "$OUT/tp-nopdl" ;;
  workload1) run workload1 40 $B $W1 --model $M --out "$OUT/w1" ;;
  workload1-nbi) run workload1-nbi 40 $B $W1 --model $M --no-batch-invariance --out "$OUT/w1-nbi" ;;
  workload2) run workload2 55 $B $W2 --model $M --out "$OUT/w2" ;;
  # AB=PROPERTY: seed workload 2 off then on in one JVM (bench shared-prefix --ab), the same tokens compared; run twice for two JVMs
  workload2-ab|workload2-ab2) run "$1" ${T_AB:-50} $B $W2 --model $M --ab "${AB:?AB=PROPERTY}" --out "$OUT/$1" ;;
  workload2-nbi) run workload2-nbi 55 $B $W2 --model $M --no-batch-invariance --out "$OUT/w2-nbi" ;;
  baichuan-w1) run baichuan-w1 60 $B $W1 --model synthetic:baichuan2-13b --out "$OUT/bc-w1" ;;
  baichuan-w1-nbi) run baichuan-w1-nbi 60 $B $W1 --model synthetic:baichuan2-13b --no-batch-invariance --out "$OUT/bc-w1-nbi" ;;
  prefill-nbi) run prefill-nbi 50 $B throughput --model $M --device cuda --batch 8 --prompt-len 2048 --output-len 2 --max-num-batched-tokens 16384 --no-batch-invariance --out "$OUT/pf-nbi" ;;
  llama1b-b128) run llama1b-b128 45 $B throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --out "$OUT/1b" ;;
  llama1b-b128-nbi) run llama1b-b128-nbi 45 $B throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 --no-batch-invariance --out "$OUT/1b-nbi" ;;
  # session 20: llama3.2-1b b128 nbi at 8,192 then 2,048 tokens a step in one JVM (run 72-chunk19 ran 2,048 first and saw decode 2.053 -> 2.208 ms
  # at 8,192: which budget or which JVM order?), and bench serve at the CUDA engine default of 8,192 tokens a step (its inter-token latency)
  llama1b-b128-nbi-budgets) run llama1b-b128-nbi-budgets 50 $B throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64 \
      --no-batch-invariance --max-num-batched-tokens 8192,2048 --out "$OUT/1b-nbi-budgets" ;;
  serve-8192) run serve-8192 ${T_SERVE:-75} $B serve --model $M --device cuda --rates 4,16,64 --requests 48 --system-prompts 4 --system-len 512 \
      --suffix-len 32 --output-len 64 --max-num-batched-tokens 8192 --out "$OUT/serve-8192" ;;
  serve) run serve ${T_SERVE:-75} $B serve --model $M --device cuda --rates 4,16,64 --requests 48 --system-prompts 4 --system-len 512 \
      --suffix-len 32 --output-len 64 --out "$OUT/serve" ;;
  # ncu over launches 400-1099 of a 5-token b1 run (past the prompt: two-plus replayed decode steps, graph nodes one by one, caches and
  # clocks left alone), then the last complete step by kernel against its DRAM-byte floor (bench/device/ncu-step-timeline.py; run 53-b1-11)
  timeline-b1|timeline-b1-nbi) local nbi=; [ "$1" = timeline-b1-nbi ] && nbi=--no-batch-invariance
      NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      run "$1" ${T_NCU:-40} $NCU --graph-profiling node --launch-skip 400 --launch-count 700 --cache-control none --clock-control none \
          --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --log-file "$OUT/$1.csv" \
          $B throughput --model $M --device cuda --batch 1 --prompt-len 128 --output-len 5 $nbi --out "$OUT/$1"
      python3 "$(dirname "${BASH_SOURCE[0]}")/ncu-step-timeline.py" "$OUT/$1.csv" >> "$OUT/$1.log" 2>&1 ;;
  *) echo "final-run.sh: unknown run $1" | tee -a "$OUT/timeline.txt" ;;
  esac
}
RUNS=${RUNS:-"throughput throughput-nbi workload1 workload1-nbi workload2 workload2-nbi prefill-nbi llama1b-b128-nbi"}
# after every run its log goes to run.log and the reports to final-out.tgz, so a run cut short by the call's limit keeps the others
{ echo "===== gpu.txt"; cat "$OUT/gpu.txt"; } >> "$RUN_OUT/run.log"
for r in $RUNS; do
  one "$r"
  [ -f "$OUT/$r.log" ] && { echo "===== $r.log ($(tail -1 "$OUT/timeline.txt"))"; cat "$OUT/$r.log"; } >> "$RUN_OUT/run.log"
  tar czf "$RUN_OUT/final-out${TAG:+-$TAG}.tgz" -C /tmp final-out${TAG:+-$TAG}
done
echo "== $(date -u +%H:%M:%S) done" >> "$OUT/timeline.txt"
{ echo "===== timeline.txt"; cat "$OUT/timeline.txt"; } >> "$RUN_OUT/run.log"
tar czf "$RUN_OUT/final-out${TAG:+-$TAG}.tgz" -C /tmp final-out${TAG:+-$TAG}
