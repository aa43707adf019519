#!/usr/bin/env python3
"""Run 48-pp10's tables from bench.log (GemmBench pp) and gemm-table.txt (cuBLAS, same call).
Usage: python3 bench/runs/48-pp10/table.py bench/runs/48-pp10
Per point: the default plan, TMA_PP128, TMA_PP192 and the default plan again (timed in that order); the drift-corrected
baseline of a ping-pong figure is the default plan's time interpolated linearly between its two timings (PP128 a third of the
way, PP192 two thirds); cuBLAS from the peer."""
import sys, statistics
d = sys.argv[1] if len(sys.argv) > 1 else "."
peer = {}
for line in open(f"{d}/gemm-table.txt"):
    if line.startswith("PEER,"):
        f = line.strip().split(",")
        peer.setdefault((int(f[-5]), int(f[-4]), int(f[-3])), float(f[-2]))
pts = {}
names = {}
for line in open(f"{d}/bench.log"):
    f = line.strip().split(",")
    if line.startswith("CSV,gemm,"):
        key = (int(f[-8]), int(f[-7]), int(f[-6]))
        pts.setdefault(key, {}).setdefault("default", float(f[-5]))
        pts[key].setdefault("tiles", f[-2] + "/" + f[-1])
    elif line.startswith("CSV,pp,"):
        key = (int(f[-5]), int(f[-4]), int(f[-3]))
        pts[key][f[-2]] = float(f[-1])
def rule(n, k, m, tiles):   # run 48-pp10's fit of Gemm.pingPongFaster (747d9f6); run 49-pp10 then dropped n > 12,288 above 2048 tokens
    t = tiles.split("/")[0]
    return t in ("tma256", "tma128") and 256 < m <= 8192 and not (k >= 8192 and m > 512) and -(-n // 128) * -(-m // 128) * 10 >= 9 * 132
print(f"| shape (N×K) | M | cuBLAS | default (plan) | TMA_PP128 (vs interp.) | TMA_PP192 (vs interp.) | again | rule now (% cuBLAS) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
pct_def, pct_rule, picked = [], [], []
for key, p in pts.items():
    if "tmapp128" not in p: continue
    n, k, m = key
    de, a = p["default"], p["again"]
    b1, b2 = de + (a - de) / 3, de + 2 * (a - de) / 3
    c = peer.get(key)
    pp = rule(n, k, m, p["tiles"])
    now = p["tmapp128"] if pp else de
    if m in (512, 2048, 8192) and c:
        pct_def.append(c / de); pct_rule.append(c / now)
        if pp: picked.append(p["tmapp128"] / b1)
    print(f"| {n}×{k} | {m} | {c or float('nan'):.1f} | {de:.1f} ({p['tiles']}) | {p['tmapp128']:.1f} ({p['tmapp128']/b1:.2f}) | {p['tmapp192']:.1f} ({p['tmapp192']/b2:.2f}) | {a:.1f} | "
          f"{'**' + format(now, '.1f') + '** PP128' if pp else format(now, '.1f')} ({100*c/now if c else float('nan'):.0f}%) |")
print(f"\n36 points M in 512/2048/8192: default plan (first timing) median {100*statistics.median(pct_def):.1f}% of cuBLAS, >= 80% at {sum(x >= 0.8 for x in pct_def)};"
      f" with the ping-pong rule median {100*statistics.median(pct_rule):.1f}%, >= 80% at {sum(x >= 0.8 for x in pct_rule)}, min {100*min(pct_rule):.1f}%;"
      f" the rule picks TMA_PP128 at {len(picked)} points, {min(picked):.2f}-{max(picked):.2f} of the interpolated default")
print("\nk/v 1024x4096 (CSV,kv):")
for line in open(f"{d}/bench.log"):
    if line.startswith("kv "): print("  " + line.rstrip())
print("\ninvariant plan (CSV,invpp) against cuBLAS:")
for line in open(f"{d}/bench.log"):
    if line.startswith("invariant "):
        import re
        g = re.match(r"invariant (.*?)\s+N=(\d+)\s+K=(\d+)\s+M=(\d+)\s+invariant\s+([\d.]+) us.*default\s+([\d.]+) us", line)
        key = (int(g[2]), int(g[3]), int(g[4])); us = float(g[5]); c = peer.get(key)
        print(f"  {g[1]:28s} M={key[2]:5d} invariant {us:7.1f} us, default {float(g[6]):7.1f}, cuBLAS {c or float('nan'):7.1f} (invariant {100*c/us if c else float('nan'):.0f}%)")
