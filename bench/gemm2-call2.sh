#!/usr/bin/env bash
# From the project root of a checkout carrying the bundle as .dev-gemm2 (bench/gemm-bundle.sh, then copy .device there, with
# bench/gemm-device.sh, bench/peers/gemm_torch.py and the ptxas cubins of the variants under .dev-gemm2/cubin/).
# Run 16-gemm2, call 2: SASS instruction counts of the GEMM variants (cubins assembled by ptxas 13.0 on the dev VM),
# then bench/gemm-device.sh (GPU tests, GemmBench, the torch peer on the same shapes).
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for c in .dev-gemm2/cubin/*.cubin; do
  cuobjdump -sass "$c" > "$OUT/$(basename $c .cubin).sass" 2>&1
  echo "$(basename $c): HGMMA $(grep -c HGMMA "$OUT/$(basename $c .cubin).sass"), HMMA $(grep -c HMMA "$OUT/$(basename $c .cubin).sass"), LDSM $(grep -c LDSM "$OUT/$(basename $c .cubin).sass"), LDGSTS $(grep -c LDGSTS "$OUT/$(basename $c .cubin).sass"), BAR $(grep -c "BAR.SYNC" "$OUT/$(basename $c .cubin).sass"), instr $(grep -cE '^\s+/\*[0-9a-f]{4}\*/' "$OUT/$(basename $c .cubin).sass")"
done | tee "$OUT/sass-counts.txt"
D=.dev-gemm2 PEER=.dev-gemm2/gemm_torch.py T_TESTS=60 T_BENCH=100 T_PEER=60 bash .dev-gemm2/gemm-device.sh
