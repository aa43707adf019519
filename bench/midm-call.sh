#!/usr/bin/env bash
# Run 31-midm (one call), from the root of a checkout carrying the bundle of bench/device/bundle.sh (no models) as .dev-midm
# with this script, bench/peers/gemm_torch.py and bench/device/final-run.sh copied in: GemmBench mid (65-256 tokens: the
# default plan's rule before this run, each mid-range candidate form, the invariant plan and its same-bits forms), then the
# engine's seed workload 1 with --no-batch-invariance under the rule before (-Darbor.gemm.mid=old) and under the candidate
# whose summed time over llama-7b's four projections at 107 tokens (one decode step's layer) was least in that bench,
# (run 31-midm's call had this picker reading the wrong columns: it fell back to "old" for both runs; fixed after)
# the torch.matmul peer on the bench's points, then GemmGpuTest + GemmInvarianceGpuTest. Every log under $OUT.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
D=.dev-midm
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu-state.txt" 2>&1
echo "== $(date -u +%T) GemmBench mid"
timeout ${T_BENCH:-80} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench mid > "$OUT/gemm-arbor.txt" 2>&1
echo "bench exit $?"; grep -E "^variant|FAILED|Exception|arbor gemm|cuMemcpy" "$OUT/gemm-arbor.txt" | cut -c1-200 | head -20
PICK=$(python3 - "$OUT/gemm-arbor.txt" <<'PY'
import sys, collections
tot = collections.defaultdict(float); pts = collections.defaultdict(int)
for l in open(sys.argv[1]):
    if l.startswith("CSV,midform,llama-7b"):
        f = l.strip().split(",")
        if int(f[-4]) == 107: tot[f[-2]] += float(f[-3]); pts[f[-2]] += 1   # ...,n,k,m,us,tiles,splits
full = {t: v for t, v in tot.items() if pts[t] == max(pts.values())}
print(min(full, key=full.get) if full else "old")
PY
)
echo "engine candidate: $PICK"; mkdir -p "$OUT/old" "$OUT/new"
echo "== $(date -u +%T) workload1-nbi, rule before"
JAVA_TOOL_OPTIONS="-Darbor.gemm.mid=old" RUNS="workload1-nbi" OUT="$OUT/old" timeout 45 bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "rc=|wall|decode|step" "$OUT/old/run.log" 2>/dev/null | cut -c1-240 | head -12
echo "== $(date -u +%T) workload1-nbi, -Darbor.gemm.mid=$PICK"
JAVA_TOOL_OPTIONS="-Darbor.gemm.mid=$PICK" RUNS="workload1-nbi" OUT="$OUT/new" timeout 45 bash $D/final-run.sh $D > /dev/null 2>&1 || true
grep -E "rc=|wall|decode|step" "$OUT/new/run.log" 2>/dev/null | cut -c1-240 | head -12
echo "== $(date -u +%T) torch peer"
PYTHONUNBUFFERED=1 timeout ${T_PEER:-30} python3 $D/gemm_torch.py "$OUT/gemm-arbor.txt" > "$OUT/gemm-table.txt" 2>&1
echo "peer exit $?"; head -2 "$OUT/gemm-table.txt" | cut -c1-200
echo "== $(date -u +%T) gpu tests"
timeout ${T_TESTS:-60} $J -cp "$CP" dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.kernels.gemm.GemmGpuTest dev.arbor.kernels.gemm.GemmInvarianceGpuTest > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "tests (found|successful|failed|aborted)|FAILED|✘" "$OUT/gpu-tests.log" | head -12
grep -cE " 0 of [0-9]+ elements differ" "$OUT/gpu-tests.log"; grep -E " [1-9][0-9]* of [0-9]+ elements differ" "$OUT/gpu-tests.log" | head -5
echo "== $(date -u +%T) done"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> "$OUT/gpu-state.txt" 2>&1
