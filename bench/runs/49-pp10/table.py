#!/usr/bin/env python3
"""Run 49-pp10's table: GemmBench pp-rule (the default plan without and with the ping-pong rule, timed before / after / before /
after) against run 48-pp10's cuBLAS and default-plan figures. Usage: python3 bench/runs/49-pp10/table.py bench/runs/49-pp10 bench/runs/48-pp10
The % of cuBLAS with the rule: run 48's cuBLAS over (run 48's default-plan figure × this call's after/before ratio) where the
rule changes the plan (FINAL: the rule as committed after this call), else run 48's default-plan figure."""
import sys, statistics
d49, d48 = sys.argv[1], sys.argv[2]
peer, default48 = {}, {}
for line in open(f"{d48}/gemm-table.txt"):
    if line.startswith("PEER,"):
        f = line.strip().split(","); peer.setdefault((int(f[-5]), int(f[-4]), int(f[-3])), float(f[-2]))
for line in open(f"{d48}/bench.log"):
    if line.startswith("CSV,gemm,"):
        f = line.strip().split(","); default48.setdefault((int(f[-8]), int(f[-7]), int(f[-6])), float(f[-5]))
ratio = {}
print("| shape (N×K) | M | before | after | before | after | after / before | kept in the final rule |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for line in open(f"{d49}/bench.log"):
    if line.startswith("CSV,rule,"):
        f = line.strip().split(","); n, k, m = int(f[-7]), int(f[-6]), int(f[-5]); b1, a1, b2, a2 = map(float, f[-4:])
        r = (a1 + a2) / (b1 + b2); keep = not (n > 12288 and m > 2048)
        if keep: ratio[(n, k, m)] = r
        print(f"| {n}×{k} | {m} | {b1:.1f} | {a1:.1f} | {b2:.1f} | {a2:.1f} | {r:.3f} | {'yes' if keep else 'no (n > 12,288 above 2048)'} |")
before, after = [], []
for key, c in peer.items():
    if key[2] not in (512, 2048, 8192) or key not in default48: continue
    before.append(c / default48[key]); after.append(c / (default48[key] * ratio.get(key, 1.0)))
print(f"\n{len(before)} points: default plan as on main median {100*statistics.median(before):.1f}% of cuBLAS, >= 80% at {sum(x >= 0.8 for x in before)};"
      f" with the final rule median {100*statistics.median(after):.1f}%, >= 80% at {sum(x >= 0.8 for x in after)}, min {100*min(after):.1f}%; the rule changes {len(ratio)} points,"
      f" after/before {min(ratio.values()):.3f}-{max(ratio.values()):.3f} (median {statistics.median(ratio.values()):.3f})")
