#!/usr/bin/env python3
"""Run 30-gemm5's tables (python3 table.py, in this folder) from gemm-arbor.txt (GemmBench raster) and gemm-table.txt (gemm_torch.py, same call)."""
import sys, collections
d = collections.defaultdict(dict)
for line in open("gemm-arbor.txt"):
    if not line.startswith("CSV,"): continue
    f = line.strip().split(",")
    kind = f[1]
    if kind == "gemm":
        n, k, m, us = int(f[-8]), int(f[-7]), int(f[-6]), float(f[-5]); d[(n, k, m)]["now"] = us; d[(n, k, m)]["tiles"] = f[-2] + " s=" + f[-1]
        d[(n, k, m)]["name"] = ",".join(f[2:-8])
    elif kind in ("bx", "np8", "r1"):
        d[(int(f[-4]), int(f[-3]), int(f[-2]))][kind] = float(f[-1])
    elif kind in ("inv", "invr1"):
        d[(int(f[-5]), int(f[-4]), int(f[-3]))][kind] = float(f[-2])
        if kind == "invr1": d[(int(f[-5]), int(f[-4]), int(f[-3]))]["invform"] = f[-1]
for line in open("gemm-table.txt"):
    if line.startswith("PEER,"):
        f = line.strip().split(",")
        d[(int(f[-5]), int(f[-4]), int(f[-3]))]["cublas"] = float(f[-2])
print("| shape (N×K) | M | cuBLAS µs | before: a block a tile, row-major µs (% cuBLAS) | **now: raster 8** µs (% cuBLAS) | persistent + raster 8 µs (%) | bf16 X (persistent where taken) µs (%) | invariant before µs (%) | **invariant now** µs (%) | invariant form |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
worst = []
for key in d:
    n, k, m = key; r = d[key]; c = r.get("cublas")
    if c is None or "np8" not in r: continue
    pct = lambda us: f"{us:.1f} ({100 * c / us:.0f}%)"
    pers = pct(r["now"]) if r["now"] != r["np8"] else "—"
    # the invariant plan's one-slice shapes ran the persistent kernel in this call ("tileP"); without it (the code after the
    # call) they run the default plan's tiles a block a tile: before = row-major (r1), now = grouped (np8), the same bits
    inv_before, inv_now, form = (r["r1"], r["np8"], "tile") if r["invform"] == "tileP" else (r["invr1"], r["inv"], r["invform"])
    print(f"| {r['name']} {n}×{k} | {m} | {c:.1f} | {pct(r['r1'])} | **{pct(r['np8'])}** | {pers} | {pct(r['bx'])} | {pct(inv_before)} | **{pct(inv_now)}** | {form} |")
    worst.append((100 * c / r["np8"], 100 * c / r["r1"], 100 * c / inv_now, 100 * c / inv_before, r['name'], m))
ge512 = [w for w in worst if w[5] >= 512 and w[5] <= 8192]
print()
print("M 512-8192, default plan: now %.0f-%.0f%% of cuBLAS (before %.0f-%.0f%%); invariant now %.0f-%.0f%% (before %.0f-%.0f%%)" % (
    min(w[0] for w in ge512), max(w[0] for w in ge512), min(w[1] for w in ge512), max(w[1] for w in ge512),
    min(w[2] for w in ge512), max(w[2] for w in ge512), min(w[3] for w in ge512), max(w[3] for w in ge512)))
print("points > 2x slower than cuBLAS (default now):", [(w[4], w[5], round(w[0])) for w in worst if w[0] < 50 and w[5] <= 8192])
print("points > 2x slower than cuBLAS (default before):", [(w[4], w[5], round(w[1])) for w in worst if w[1] < 50 and w[5] <= 8192])
print("points > 2x slower (invariant now):", [(w[4], w[5], round(w[2])) for w in worst if w[2] < 50 and w[5] <= 8192])
print("points > 2x slower (invariant before):", [(w[4], w[5], round(w[3])) for w in worst if w[3] < 50 and w[5] <= 8192])
