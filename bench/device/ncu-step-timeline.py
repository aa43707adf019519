#!/usr/bin/env python3
"""Per-kernel timeline of one decode step from an ncu --csv log (gpu__time_duration.sum, dram__bytes_read/write.sum per
launch, graph nodes profiled one by one). Steps are split at the embedding kernel (each step's first launch); the last
complete step is printed kernel by kernel for layer 0, then per kernel name over the whole step: launches, time, DRAM bytes
and the byte floor at RATE (GB/s). Usage: ncu-step-timeline.py ncu.csv [RATE]"""
import csv, sys, collections

UNITS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6,
         "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9}

def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    launches = collections.OrderedDict()
    for r in csv.DictReader(lines):
        k = r["ID"]
        d = launches.setdefault(k, {"name": r["Kernel Name"], "grid": r.get("Grid Size", ""), "block": r.get("Block Size", "")})
        v = float(r["Metric Value"].replace(",", "")) * UNITS.get(r["Metric Unit"], 1.0)
        d[r["Metric Name"]] = v
    return list(launches.values())

def main():
    path = sys.argv[1]
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 4260.0   # GB/s = bytes a microsecond / 1e3
    ls = rows(path)
    starts = [i for i, l in enumerate(ls) if "embedding" in l["name"].lower()]
    if len(starts) < 2:
        print(f"{len(ls)} launches, {len(starts)} step starts: no complete step"); return
    steps = [ls[a:b] for a, b in zip(starts, starts[1:])]
    for i, s in enumerate(steps):
        t = sum(l.get("gpu__time_duration.sum", 0) for l in s)
        print(f"step {i}: {len(s)} launches, {t:.1f} us of kernel time (serialized)")
    s = steps[-1]
    def by(l): return l.get("gpu__time_duration.sum", 0)
    def mb(l): return (l.get("dram__bytes_read.sum", 0) + l.get("dram__bytes_write.sum", 0)) / 1e6
    total = sum(by(l) for l in s)
    print(f"\nthe last complete step, first 12 launches (us, DRAM MB, floor us at {rate:.0f} GB/s):")
    for l in s[:12]:
        print(f"  {l['name'][:60]:60s} grid {l['grid']:>14s} {by(l):8.2f} us {mb(l):8.2f} MB floor {mb(l) * 1e3 / rate:7.2f}")
    agg = collections.OrderedDict()
    for l in s:
        key = (l["name"], l["grid"])
        a = agg.setdefault(key, [0, 0.0, 0.0])
        a[0] += 1; a[1] += by(l); a[2] += mb(l)
    print(f"\nby kernel and grid over the step ({total:.1f} us):")
    print("| kernel | grid | launches | us total | us each | MB each | floor us each | % of floor | share of step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (name, grid), (n, t, m) in sorted(agg.items(), key=lambda e: -e[1][1]):
        floor = m * 1e3 / rate / n
        print(f"| {name[:48]} | {grid} | {n} | {t:.1f} | {t / n:.2f} | {m / n:.2f} | {floor:.2f} | {100 * floor / (t / n) if t else 0:.0f}% | {100 * t / total:.1f}% |")

if __name__ == "__main__":
    main()
