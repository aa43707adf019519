#!/usr/bin/env python3
"""Run 31-midm's tables from gemm-arbor.txt (GemmBench mid) and gemm-table.txt (gemm_torch.py), both of this call.
Default plan: the rule before (CSV,midold), each candidate (CSV,midform), the final table's choice (Gemm.MID_TABLE: TMA_64X2 at
its shapes, else the rule before; its figure is the candidate's measured figure at that point), cuBLAS (PEER).
Invariant plan: its choice in the call (CSV,inv; the rule before), the forms (CSV,midinv), the final choice (TMA_256 slabs where
the refitted model picks them, at 129-256 tokens) and the opt-in TMA_64X2 slabs (-Darbor.gemm.invariantNarrow=true)."""
import collections, os
here = os.path.dirname(os.path.abspath(__file__))
old, form, inv, minv, peer, names = {}, collections.defaultdict(dict), {}, collections.defaultdict(dict), {}, {}
for l in open(os.path.join(here, "gemm-arbor.txt")):
    f = l.strip().split(",")
    if l.startswith("CSV,midold,"):
        key = (int(f[-6]), int(f[-5]), int(f[-4])); old[key] = (float(f[-3]), f[-2], f[-1]); names[key[:2]] = ",".join(f[2:-6])
    elif l.startswith("CSV,midform,"):
        form[(int(f[-6]), int(f[-5]), int(f[-4]))][f[-2]] = (float(f[-3]), f[-1])
    elif l.startswith("CSV,inv,"):
        inv[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
    elif l.startswith("CSV,midinv,"):
        minv[(int(f[-6]), int(f[-5]), int(f[-4]))][f[-2]] = float(f[-3])
for l in open(os.path.join(here, "gemm-table.txt")):
    if l.startswith("PEER,"):
        f = l.strip().split(","); peer[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
TABLE = [(22016, 4096, 192), (24576, 4096, 128), (1024, 4096, 256)]
cands = ["tma128", "tma256", "tma64", "tma64x2", "tman64", "wide"]
print("| shape (N×K) | M | before | " + " | ".join(cands) + " | **now** | cuBLAS | % of cuBLAS before → now |")
print("| --- | ---: | ---: | " + " | ".join("---:" for _ in cands) + " | ---: | ---: | ---: |")
for key in sorted(old, key=lambda x: (list(names).index(x[:2]), x[2])):
    n, k, m = key
    b = old[key][0]
    now = form[key]["tma64x2"][0] if any(n == e[0] and k == e[1] and m <= e[2] for e in TABLE) else b
    best = min(v[0] for v in form[key].values())
    cells = [("**%.1f**" if v[0] == best else "%.1f") % v[0] + "/%s" % v[1] for v in (form[key][c] for c in cands)]
    p = peer.get(key)
    print(f"| {names[key[:2]].replace('|', chr(92) + '|')} {n}×{k} | {m} | {b:.1f} ({old[key][1]}/{old[key][2]}) | " + " | ".join(cells)
          + f" | **{now:.1f}** | {p:.1f} | {100 * p / b:.0f}% → {100 * p / now:.0f}% |")
print()
print("| shape (N×K) | M | invariant before | registers | slabs " + " | slabs ".join(cands) + " | **now** | opt-in narrow |")
print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in cands) + " | ---: | ---: |")
for key in sorted(inv, key=lambda x: (list(names).index(x[:2]), x[2])):
    n, k, m = key
    if not minv[key]:
        continue
    v = minv[key]
    fs = [v["reg"]] + [v["slab-" + c] for c in cands]
    best = min(fs)
    b = inv[key]
    # the final model: min of registers, TMA_128 slabs and (129-256) TMA_256 slabs by estimate; measured pick from the fit script
    # the final model (TMA_256 slabs added at 129-256 tokens) picks the measured fastest of the registers, TMA_128 and TMA_256
    # slabs at all 12 points of this range here (bench/runs/31-midm/model-fit.py); at 65-128 tokens nothing changed
    now = min(v["reg"], v["slab-tma128"], v["slab-tma256"]) if 128 < m <= 256 else b
    cells = [("**%.1f**" if x == best else "%.1f") % x for x in fs]
    narrow = v["slab-tma64x2"] if (m <= 128 and n <= 6144) or (m <= 192 and n <= 4096) or (m <= 256 and n * k <= 4096 * 4096) else None
    print(f"| {names[key[:2]].replace('|', chr(92) + '|')} {n}×{k} | {m} | {b:.1f} | " + " | ".join(cells) + f" | **{now:.1f}** | " + (f"{narrow:.1f}" if narrow else "—") + " |")
