#!/usr/bin/env python3
"""Run 35-midk6's tables from gemm-arbor.txt (GemmBench balance) and gemm-table.txt (the cuBLAS peer)."""
import collections, os
d = os.path.dirname(os.path.abspath(__file__))
wave, bal, bx, sweep, peer = {}, {}, {}, collections.defaultdict(dict), {}
for l in open(os.path.join(d, "gemm-arbor.txt")):
    if not l.startswith("CSV,"): continue
    f = l.strip().split(",")
    kind = f[1]
    if kind == "balwave":   # name, n, k, m, us, tiles, splits
        wave[(int(f[-6]), int(f[-5]), int(f[-4]))] = (float(f[-3]), f[-2], int(f[-1]), ",".join(f[2:-6]))
    elif kind == "gemm":    # name, n, k, m, us, tflops, -1, tiles, splits
        bal[(int(f[-8]), int(f[-7]), int(f[-6]))] = (float(f[-5]), f[-2], int(f[-1]))
    elif kind == "bx":
        bx[(int(f[-4]), int(f[-3]), int(f[-2]))] = float(f[-1])
    elif kind == "balsweep":
        sweep[(int(f[-6]), int(f[-5]), int(f[-4]))][(f[-2], int(f[-1]))] = float(f[-3])
for l in open(os.path.join(d, "gemm-table.txt")):
    if l.startswith("PEER,"):
        f = l.strip().split(",")
        peer[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
print("| shape (N×K) | M | one-wave plan (before, kept) | balanced rule (dropped) | TMA_128 by splits 1/2/3/4/5/6/7/8 | TMA_64X2 by splits 1/…/8 | fastest | bf16 X | cuBLAS |")
print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
for key, (us, t, s, name) in wave.items():
    b = bal[key]; sw = sweep[key]
    t128 = " / ".join(f"{sw[('tma128', i)]:.1f}" for i in range(1, 9) if ("tma128", i) in sw)
    t64 = " / ".join(f"{sw[('tma64x2', i)]:.1f}" for i in range(1, 9) if ("tma64x2", i) in sw)
    best = min(sw, key=sw.get)
    print(f"| {name.replace('|', chr(92) + '|')} {key[0]}×{key[1]} | {key[2]} | {us:.1f} ({t}/{s}) | {b[0]:.1f} ({b[1]}/{b[2]}) | {t128} | {t64} | **{sw[best]:.1f}** ({best[0]}/{best[1]}) | {bx[key]:.1f} | {peer.get(key, float('nan')):.1f} |")
