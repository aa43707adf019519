#!/usr/bin/env bash
# Run 57-gqa12's one device call: Llama-3.2-1B's GQA-4 decode attention in one layer (FlashDecodeBench gqa64: the CUDA-core paged
# kernel, the mode's decode before, against the tensor-core kernel's 64-row and one-warp tiles), then the 1b b128 x 512 engine
# rows without batch invariance before (-Darbor.cuda.nbiFlashBelow=0: every decode through the paged kernel) and after (the
# default: G >= 4 decode steps of one-warp tiles through the tensor-core kernel), interleaved twice; the GPU test of the new
# path; the default mode's row (unchanged code path) for reference; the op profile after. From the repo root on the GPU
# machine: bash bench/device/gqa12-call.sh DIR
set -u
D=${1:-.device}
L=/tmp/gqa12; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
export DJL_OFFLINE=true
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
B1="throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 64"
step() { local name=$1 t=$2; shift 2; echo "== $(date -u +%H:%M:%S) $name" >> $L/timeline.txt; timeout "$t" "$@" > "$L/$name.log" 2>&1; echo "rc=$?" >> "$L/$name.log"; }
pack() { tar czf $OUT/gqa12-logs.tgz -C /tmp gqa12; cp $L/timeline.txt $OUT/ 2>/dev/null; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-start.txt 2>&1
step decode-bench 30 $J -cp $CP dev.arbor.kernels.bench.FlashDecodeBench gqa64
pack
step 1b-nbi-before 40 $J -Darbor.cuda.nbiFlashBelow=0 -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/1b-nbi-before
step 1b-nbi-after 40 $J -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/1b-nbi-after
pack
step 1b-nbi-before2 40 $J -Darbor.cuda.nbiFlashBelow=0 -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/1b-nbi-before2
step 1b-nbi-after2 40 $J -cp $CP dev.arbor.server.Main bench $B1 --no-batch-invariance --out $L/1b-nbi-after2
pack
step gpu-test ${T_TESTS:-60} $J -cp $CP dev.arbor.accel.testing.DeviceTestLauncher gpu dev.arbor.models.NbiFlashDecodeGpuTest
pack
step 1b-default 40 $J -cp $CP dev.arbor.server.Main bench $B1 --out $L/1b-default
pack
step profile-1b-nbi-after ${T_PROF:-45} $J -Darbor.opProfile=true -cp $CP dev.arbor.server.Main bench throughput --model synthetic:llama3.2-1b \
    --device cuda --batch 128 --prompt-len 512 --output-len 16 --no-batch-invariance --out $L/prof-1b-nbi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv > $L/clocks-end.txt 2>&1
echo "== $(date -u +%H:%M:%S) done" >> $L/timeline.txt
pack
grep -h 'decode\|tok/s\|tests successful\|tests failed\|tests found\|max |logit' $L/*.log | grep -v '^\s*$' | head -80
