# The invariant plan's time model (Gemm.estimateMicros, constants of commit after run 27-gemm4) against both forms as measured in run 27-gemm4: python3 bench/runs/27-gemm4/model-check.py (from the repo root)
import math, sys
ext = {}
for line in open('bench/runs/27-gemm4/gemm-arbor.txt'):
    if line.startswith(('CSV,invreg,', 'CSV,invslab,')):
        f = line.strip().split(',')
        ext[(f[1], int(f[-4]), int(f[-3]), int(f[-2]))] = float(f[-1])
def cdiv(a, b): return -(-a // b)
worst = 0; rows = []
for (kind, n, k, m), us in sorted(ext.items()):
    if kind != 'invreg': continue
    slab = ext[('invslab', n, k, m)]
    kt = cdiv(k, 64); b1 = cdiv(n, 64)
    s = max(1, min(min(8, kt // 4), cdiv(264, b1))); per = cdiv(kt, s); s = cdiv(kt, per)
    blocks = cdiv(n, 128) * cdiv(m, 128)
    reg_est = cdiv(blocks, 132) * (s * per * 0.78 + s * 1.2)
    slab_est = cdiv(blocks * s, 132) * per * 0.62 + (2 * s + 1) * 4.0 * m * n / 2.2e6 + 3
    pick = us if reg_est <= slab_est else slab
    best = min(us, slab)
    loss = pick / best - 1
    worst = max(worst, loss)
    rows.append((n, k, m, s, us, reg_est, slab, slab_est, 'reg' if reg_est <= slab_est else 'slab', loss))
for r in rows: print("%5d %5d %5d s=%d reg %7.1f (est %7.1f) slab %7.1f (est %7.1f) pick %-4s loss %4.1f%%" % (r[:9] + (100 * r[9],)))
print(len(rows), "points, worst loss %.1f%%" % (100 * worst))
