"""Run 43/44-clus9's tables from bench.log (GemmBench cluster) and gemm-table.txt (cuBLAS): python3 table.py [DIR [PEER_DIR]]
(run 44-clus9 ran no peer: python3 43-clus9/table.py 44-clus9 43-clus9, from bench/runs)"""
import sys, statistics
d = sys.argv[1] if len(sys.argv) > 1 else "."
pd = sys.argv[2] if len(sys.argv) > 2 else d
peer, plain, forms, inv = {}, {}, {}, {}
for line in open(f"{pd}/gemm-table.txt"):
    if line.startswith("PEER,"):
        f = line.strip().split(","); peer[(int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
for line in open(f"{d}/bench.log"):
    f = line.strip().split(",")
    if line.startswith("CSV,gemm,"):
        key = (int(f[-8]), int(f[-7]), int(f[-6])); plain[key] = (float(f[-5]), f[-2] + (" s" + f[-1] if f[-1] != "1" else "")); forms.setdefault(key, {})
    elif line.startswith("CSV,cl,"):
        forms.setdefault((int(f[-5]), int(f[-4]), int(f[-3])), {})[f[-2]] = float(f[-1])
    elif line.startswith("CSV,clinv,"):
        inv.setdefault((int(f[-5]), int(f[-4]), int(f[-3])), {})[f[-2]] = float(f[-1])
print("| N×K | M | cuBLAS | plan (tiles) | no clusters | clusters | again | other tile in clusters | launch only | hand-off, no multicast | clusters / none |")
print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
pct_plain, pct_best, ratios = [], [], []
for key in plain:
    n, k, m = key; us, tiles = plain[key]; fo = forms[key]; cb = peer.get(key)
    other = next((v for kk, v in fo.items() if kk.startswith("c2") ), None)
    c = fo.get("c"); ratios.append(c / us if c else None)
    base = min(us, fo.get("again", us))
    if m <= 8192 and cb:
        pct_plain.append(cb / base); pct_best.append(cb / min([base] + [v for kk, v in fo.items() if kk.startswith("c")]))
    cell = lambda v: f"{v:.1f}" if v else ""
    print(f"| {n}×{k} | {m} | {cell(cb)} | {tiles} | {us:.1f} ({100*cb/us:.0f}%) | {cell(c)} | {cell(fo.get('again'))} | {cell(other)} | {cell(fo.get('c-launch'))} | {cell(fo.get('c-handoff'))} | {c/us:.2f} |" if cb else "")
print(f"\nM in {{512, 2048, 8192}}: {len(pct_plain)} points; no clusters (faster of the two runs) median {100*statistics.median(pct_plain):.1f}% of cuBLAS, >= 80% at {sum(p >= 0.8 for p in pct_plain)}; "
      f"best of every form median {100*statistics.median(pct_best):.1f}%, >= 80% at {sum(p >= 0.8 for p in pct_best)}; clusters/none {min(r for r in ratios if r):.2f}-{max(r for r in ratios if r):.2f}")
print("\n| invariant, N×K | M | its plan | in clusters | again | TMA_128 sliced, clusters | TMA_192 sliced, clusters |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for (n, k, m), fo in inv.items():
    cell = lambda v: f"{v:.1f}" if v else "—"
    print(f"| {n}×{k} | {m} | {cell(fo.get('inv'))} | {cell(fo.get('c'))} | {cell(fo.get('again'))} | {cell(fo.get('creg128'))} | {cell(fo.get('creg192'))} |")
