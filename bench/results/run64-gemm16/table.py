#!/usr/bin/env python3
"""Run 64-gemm16's tables from the call's logs: python3 table.py DIR (DIR holds bench.log, peer.log and the engine logs).
Issue 10's table with fp32 X (converted first above 64 tokens, as the engine fed it before) and bf16 X in the same plan (what
the bf16 producers feed above 64 tokens), % of cuBLAS from the peer run of the same call; then the engine rows."""
import re, sys, statistics, glob, os, gzip
d = sys.argv[1]
gemm, bx, peer, res = {}, {}, {}, []
for line in gzip.open(f"{d}/bench.log.gz", "rt"):
    f = line.strip().split(",")
    if line.startswith("CSV,gemm,"):
        g = f[-8:]
        gemm[(int(g[0]), int(g[1]), int(g[2]))] = (",".join(f[2:-8]), float(g[3]), float(g[5]), g[6], g[7])
    elif line.startswith("CSV,bx,"):
        bx[(int(f[-4]), int(f[-3]), int(f[-2]))] = float(f[-1])
    elif line.startswith("CSV,res,"):
        res.append(f[2:])
for line in gzip.open(f"{d}/peer.log.gz", "rt"):
    if line.startswith("PEER,"):
        f = line.strip().split(",")
        peer[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
print("| shape | N×K | M | plan | cuBLAS µs | fp32 X µs | % cuBLAS | bf16 X µs | % cuBLAS | bf16 / fp32 | % floor (fp32 X, M ≤ 64) |")
print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
p32, p16, mid = [], [], []
for (n, k, m), (name, us, floor, tiles, splits) in sorted(gemm.items(), key=lambda e: (e[1][0], e[0][2])):
    cu, b = peer.get((n, k, m)), bx.get((n, k, m))
    a = 100 * cu / us if cu else float("nan")
    c = 100 * cu / b if cu and b else float("nan")
    print(f"| {name} | {n}×{k} | {m} | {tiles}/{splits} | {cu if cu is None else f'{cu:.1f}'} | {us:.1f} | {a:.1f} | "
          f"{b if b is None else f'{b:.1f}'} | {c:.1f} | {b / us if b else float('nan'):.3f} | {f'{floor:.1f}' if m <= 64 else ''} |")
    if m >= 512 and cu:
        p32.append((a, f"{n}x{k}@{m}")); p16.append((c, f"{n}x{k}@{m}"))
    if 64 < m < 512 and cu:
        mid.append((a, c, f"{n}x{k}@{m}"))
for label, ps in (("fp32 X", p32), ("bf16 X", p16)):
    if ps:
        print(f"\nM >= 512, {label}: {len(ps)} points, median {statistics.median(p for p, _ in ps):.1f}% of cuBLAS, >= 80% at {sum(p >= 80 for p, _ in ps)}, "
              f"min {min(ps)[0]:.1f}% ({min(ps)[1]}), > 2x slower at {sum(p < 50 for p, _ in ps)}")
if mid:
    print(f"65-511 tokens: {len(mid)} points, median fp32 X {statistics.median(a for a, _, _ in mid):.1f}% / bf16 X {statistics.median(c for _, c, _ in mid):.1f}% of cuBLAS")
fl = [(v[2], kk) for kk, v in gemm.items() if kk[2] <= 64]
if fl:
    print(f"M <= 64 (fp32 X, the engine's feed there): {len(fl)} points, >= 85% of the floor at {sum(f >= 85 for f, _ in fl)}, median {statistics.median(f for f, _ in fl):.1f}%, min {min(fl)[0]:.1f}%")
    sl = [(100 * peer[kk] / gemm[kk][1], kk) for kk in gemm if kk[2] <= 64 and kk in peer]
    print(f"M <= 64 vs cuBLAS: > 2x slower at {sum(p < 50 for p, _ in sl)} of {len(sl)}; min {min(sl)[0]:.1f}% {min(sl)[1]}")
print("\nresources (kernel, tiles, registers, dynamic smem B, local B, blocks/SM, warp occupancy):")
for r in res:
    print("  " + ", ".join(r))
print("\n## engine rows")
for log in sorted(glob.glob(f"{d}/*.log")):
    name = os.path.basename(log)[:-4]
    if name in ("bench", "peer", "tests"):
        continue
    txt = open(log).read()
    rows = [l.strip() for l in txt.splitlines() if re.search(r"decode steps:|other steps|tok/s|tokens/s|total wall|wall s|rc=", l)]
    print(f"### {name}")
    for l in rows[:12]:
        print("  " + l[:260])
