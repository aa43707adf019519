#!/usr/bin/env python3
"""Attention kernels of a shared-prefix run from an ncu --csv log (ncu -k regex on the tensor-core attention kernels' names):
every profiled launch in order (kernel, grid, us, DRAM MB, L2 MB, SM %, tensor pipe %, warps active %, registers), then per
(kernel, grid): launches, us each, the same figures averaged. Usage: ncu-attention.py ncu.csv"""
import csv, sys, collections

UNITS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6,
         "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9}
T, DR, DW, L2 = "gpu__time_duration.sum", "dram__bytes_read.sum", "dram__bytes_write.sum", "lts__t_bytes.sum"
SM, TC, WA, RG = ("sm__throughput.avg.pct_of_peak_sustained_elapsed", "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_elapsed",
                  "sm__warps_active.avg.pct_of_peak_sustained_active", "launch__registers_per_thread")

def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    launches = collections.OrderedDict()
    for r in csv.DictReader(lines):
        d = launches.setdefault(r["ID"], {"name": r["Kernel Name"], "grid": r.get("Grid Size", "")})
        try:
            v = float(r["Metric Value"].replace(",", ""))
        except ValueError:
            continue
        unit = r["Metric Unit"]
        d[r["Metric Name"]] = v * UNITS.get(unit, 1.0) if unit in UNITS else v
    return list(launches.values())

def fmt(l):
    return (f"{l.get(T, 0):9.2f} us {(l.get(DR, 0) + l.get(DW, 0)) / 1e6:8.2f} MB dram {l.get(L2, 0) / 1e6:9.2f} MB L2 "
            f"SM {l.get(SM, 0):5.1f}% tensor {l.get(TC, 0):5.1f}% warps {l.get(WA, 0):5.1f}% regs {l.get(RG, 0):.0f}")

def main():
    ls = rows(sys.argv[1])
    print(f"{len(ls)} launches profiled, {sum(l.get(T, 0) for l in ls):.1f} us")
    for i, l in enumerate(ls):
        if i < 8 or i % 32 in (0, 1, 2) or i >= len(ls) - 4:
            print(f"  #{i:3d} {l['name'].split('__')[0][:28]:28s} grid {l['grid']:>16s} {fmt(l)}")
    agg = collections.OrderedDict()
    for l in ls:
        agg.setdefault((l["name"].split("__")[0], l["grid"]), []).append(l)
    print("\n| kernel | grid | launches | us each | DRAM MB each | L2 MB each | SM % | tensor pipe % | warps active % | regs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (name, grid), g in sorted(agg.items(), key=lambda e: -sum(l.get(T, 0) for l in e[1])):
        n = len(g)
        avg = lambda k: sum(l.get(k, 0) for l in g) / n
        print(f"| {name[:40]} | {grid} | {n} | {avg(T):.2f} | {(avg(DR) + avg(DW)) / 1e6:.2f} | {avg(L2) / 1e6:.2f} | {avg(SM):.1f} | {avg(TC):.1f} | {avg(WA):.1f} | {avg(RG):.0f} |")

if __name__ == "__main__":
    main()
