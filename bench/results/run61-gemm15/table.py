#!/usr/bin/env python3
"""Run 61-gemm15's tables from the call's logs: python3 table.py DIR (DIR holds bench.log and peer.log)."""
import sys, statistics
d = sys.argv[1]
few, gemm, bx, peer = {}, {}, {}, {}
for line in open(f"{d}/bench.log"):
    f = line.strip().split(",")
    if line.startswith("CSV,few,"):
        n, k, m, form, tiles, blocks, us = int(f[2]), int(f[3]), int(f[4]), f[5], f[6], f[7], float(f[8])
        few.setdefault((n, k, m), []).append((form, tiles, blocks, us))
    elif line.startswith("CSV,gemm,"):
        g = f[-8:]
        gemm[(int(g[0]), int(g[1]), int(g[2]))] = (",".join(f[2:-8]), float(g[3]), float(g[5]), g[6], g[7])
    elif line.startswith("CSV,bx,"):
        bx[(int(f[-4]), int(f[-3]), int(f[-2]))] = float(f[-1])
for line in open(f"{d}/peer.log"):
    if line.startswith("PEER,"):
        f = line.strip().split(",")
        peer[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
print("## few-tile points (us; cuBLAS from the table's peer run where the point is in it)")
print("| N×K | M | cuBLAS | main [plan] | main again | " + " | ".join(["sk-tma128", "sk-tma256", "sk-tma256x3", "sk-tma64x2", "sk-tman64", "split-tman64", "split-tma64x2", "pp128", "sk-rule", "main bf16 X"]) + " | best / main |")
print("| --- | ---: | ---: | --- | ---: |" + " ---: |" * 11)
for (n, k, m), rows in few.items():
    byform = {r[0]: r for r in rows}
    main = byform["main"]
    ref = (main[3] + byform["main-again"][3]) / 2 if "main-again" in byform else main[3]
    cells = []
    best = min((r for r in rows if r[0] not in ("main", "main-again", "main-bf16x")), key=lambda r: r[3])
    for form in ["sk-tma128", "sk-tma256", "sk-tma256x3", "sk-tma64x2", "sk-tman64", "split-tman64", "split-tma64x2", "pp128", "sk-rule", "main-bf16x"]:
        r = byform.get(form)
        cells.append("" if r is None else f"{r[3]:.1f}" + (f" ({r[2]})" if form.startswith(("sk", "split")) else ""))
    cu = peer.get((n, k, m))
    print(f"| {n}×{k} | {m} | {cu if cu is None else f'{cu:.1f}'} | {main[3]:.1f} [{main[1]}/{main[2]}] | {byform.get('main-again', main)[3]:.1f} | " + " | ".join(cells)
          + f" | {best[0]} {best[3] / ref:.3f} |")
print("\n## issue 10's table (default plan as main's; % of cuBLAS from 512 tokens, % of the weight-read floor to 64)")
pcts, rows512 = [], []
for (n, k, m), (name, us, floor, tiles, splits) in sorted(gemm.items(), key=lambda e: (e[1][0], e[0][2])):
    cu = peer.get((n, k, m))
    pct = 100 * cu / us if cu else float("nan")
    b = bx.get((n, k, m))
    extra = f" bf16 X {b:.1f} ({100 * cu / b:.1f}%)" if b and cu else ""
    print(f"{name:40s} {n:6d} {k:5d} {m:5d} | {us:8.1f} us | cuBLAS {cu if cu is None else round(cu, 1)} | {pct:5.1f}% cuBLAS | "
          + (f"{floor:5.1f}% floor | " if m <= 64 else "") + f"{tiles}/{splits}{extra}")
    if m >= 512 and cu:
        pcts.append((pct, f"{n}x{k}@{m}"))
print(f"\nM >= 512: {len(pcts)} points, median {statistics.median(p for p, _ in pcts):.1f}% of cuBLAS, >= 80% at {sum(p >= 80 for p, _ in pcts)}, "
      f"min {min(pcts)[0]:.1f}% ({min(pcts)[1]}), > 2x slower at {sum(p < 50 for p, _ in pcts)}")
fl = [(v[2], k) for k, v in gemm.items() if k[2] <= 64]
if fl:
    print(f"M <= 64: {len(fl)} points, >= 85% of the floor at {sum(f >= 85 for f, _ in fl)}, median {statistics.median(f for f, _ in fl):.1f}%, min {min(fl)[0]:.1f}%")
    sl = [(100 * peer[k] / gemm[k][1], k) for k in gemm if k[2] <= 64 and k in peer]
    print(f"M <= 64 vs cuBLAS: > 2x slower at {sum(p < 50 for p, _ in sl)} of {len(sl)}; min {min(sl)[0]:.1f}% {min(sl)[1]}")
