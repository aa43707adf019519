#!/usr/bin/env bash
# Run 36-midk6 (the second, short call), from the root of a checkout carrying run 35-midk6's bundle as .dev-midk6 with the
# kernels jars of the slab change: GemmBench sums (the default plan's K slices by atomics or as slabs at 104-128 tokens), then
# llama3.2-1b batch 128 and seed workload 1 (--no-batch-invariance) with -Darbor.gemm.splitSum=atomics and =slabs. One
# tarball of every log under $OUT. (GemmBench's "sums" mode went with the slab option, 1ce0cb5.)
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/logs"
D=.dev-midk6
tar xJf $D/jre.tar.xz -C /tmp && export DJL_OFFLINE=true
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
CP="$(echo $D/lib/*.jar | tr ' ' ':')"
L=$OUT/logs
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem --format=csv > "$L/gpu-state.txt" 2>&1
echo "== $(date -u +%T) GemmBench sums"
timeout ${T_BENCH:-25} $J -cp "$CP" dev.arbor.kernels.bench.GemmBench sums > "$L/gemm-sums.txt" 2>&1
echo "bench exit $?"; grep -E "atomics|FAILED|Exception" "$L/gemm-sums.txt" | cut -c1-170
for r in llama1b-b128-nbi workload1-nbi; do
  for s in atomics slabs; do
    echo "== $(date -u +%T) $r splitSum=$s"; mkdir -p "$L/$r-$s"
    JAVA_TOOL_OPTIONS="-Darbor.gemm.splitSum=$s" RUNS="$r" OUT="$L/$r-$s" timeout 22 bash $D/final-run.sh $D > /dev/null 2>&1 || true
    grep -E "tokens/s \(|decode steps:|auto total s|rc=" "$L/$r-$s/run.log" 2>/dev/null | cut -c1-200 | head -4
    rm -f "$L/$r-$s/final-out.tgz"
  done
done
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv >> "$L/gpu-state.txt" 2>&1
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
echo "== $(date -u +%T) done"
