#!/usr/bin/env bash
# Session 23, lead: where llama3.2-1b batch 128's decode steps lose ~0.17 ms a step between steps (run 88: device idle 0.10-0.12 ms
# a step, input copies 0.066-0.078 ms, against 0.008 / 0.020 at llama-7b batch 1): an Nsight Systems trace of the throughput bench
# (CUDA API and GPU activity), summarised by nsys stats; the host API calls that took longest and the copies' device times.
#   bash bench/device/lead23-call.sh .device   (carry [".device/lib", ".device/jre.tar.xz"], timeout_s 150)
set -u
D=${1:-.device}
OUT=${OUT:-/tmp/lead23-out}; mkdir -p $OUT
L=/tmp/lead23; mkdir -p $L
tar xJf "$D/jre.tar.xz" -C /tmp
CP=$(echo "$D"/lib/*.jar | tr ' ' ':')
J="/tmp/jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss4m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn"
NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/nsight-systems*/bin/nsys 2>/dev/null | head -1)
echo "nsys: ${NSYS:-none}" | tee $OUT/summary.txt
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw --format=csv >> $OUT/summary.txt
B1B="bench throughput --model synthetic:llama3.2-1b --device cuda --batch 128 --prompt-len 512 --output-len 48 --no-batch-invariance"
if [ -n "$NSYS" ]; then
  timeout 100 $NSYS profile --trace=cuda --sample=none --cpuctxsw=none --cuda-graph-trace=graph -o $L/b128 -f true \
    $J -cp $CP dev.arbor.server.Main $B1B --out $L/b128-json > $L/b128.log 2>&1; echo "rc=$?" >> $L/b128.log
  grep -E "^decode steps|tok/s|rc=" $L/b128.log >> $OUT/summary.txt
  timeout 30 $NSYS stats -r cuda_api_sum,cuda_gpu_mem_time_sum,cuda_gpu_mem_size_sum -f csv -o $L/st $L/b128.nsys-rep > $L/stats.log 2>&1
  timeout 20 $NSYS stats -r cuda_api_trace -f csv -o $L/tr $L/b128.nsys-rep >> $L/stats.log 2>&1
  timeout 20 $NSYS stats -r cuda_gpu_trace -f csv -o $L/gt $L/b128.nsys-rep >> $L/stats.log 2>&1
  cp $L/st*.csv $OUT/ 2>/dev/null
  for f in $L/tr*.csv $L/gt*.csv; do [ -f "$f" ] && tail -n 6000 "$f" | gzip > $OUT/$(basename $f).tail.gz; done
  cp $L/stats.log $L/b128.log $OUT/
else
  timeout 60 $J -cp $CP dev.arbor.server.Main $B1B > $OUT/b128.log 2>&1
fi
ls -la $L >> $OUT/summary.txt
cat $OUT/summary.txt; head -40 $OUT/st*api_sum*.csv 2>/dev/null
