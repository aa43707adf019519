#!/usr/bin/env python3
"""Run 35-inv6: the GemmBench sliced table (µs) from bench.log's CSV,sl lines: python3 bench/runs/35-inv6/table.py"""
import collections, os
rows = collections.OrderedDict()
for l in open(os.path.join(os.path.dirname(__file__), "bench.log")):
    if not l.startswith("CSV,sl,"): continue
    p = l.strip().split(",")
    rows.setdefault((p[2].replace('|', '\\|'), int(p[5])), {})[p[6]] = float(p[7])
forms = ["default", "now", "reg128", "reg128i", "reg192", "slab128", "slab256", "slab64x2"]
print("| shape (N×K) | M | " + " | ".join(forms) + " |")
print("| --- | ---: |" + " ---: |" * len(forms))
for (name, m), d in rows.items():
    print(f"| {name} | {m} | " + " | ".join(f"{d[f]:.1f}" if f in d else "—" for f in forms) + " |")
