#!/usr/bin/env python3
"""torch.matmul (cuBLAS) peer of kernels/src/test/.../bench/GemmBench.java, run in the same device call.

Usage: python3 bench/peers/gemm_torch.py ARBOR_OUTPUT.txt
Reads the "CSV,gemm,..." lines GemmBench printed (shape name, N, K, M, microseconds, ...), times
torch.matmul(x, w.T) with x bf16 [M, K] and w bf16 [N, K] (out bf16, cuBLAS' usual path) on the same
shapes the same way (W rotated over copies filling > 256 MiB, launches captured in a CUDA graph, median
of 5 replays), and prints one table with both, % of cuBLAS (torch time / Arbor time) and, for M <= 64,
Arbor's % of the weight-read floor.
With --alone instead of a file: cuBLAS alone on GemmBench's shapes (for planning, without Arbor's run).
"""
import sys
import torch


def time_matmul(m, n, k, launches_hint):
    wbytes = 2 * n * k
    copies = max(2, -(-(256 << 20) // wbytes))
    g = torch.Generator(device="cuda").manual_seed(1)
    ws = [(torch.rand(n, k, device="cuda", dtype=torch.float32, generator=g) - 0.5).mul_(0.2).to(torch.bfloat16) for _ in range(copies)]
    x = (torch.rand(m, k, device="cuda", dtype=torch.float32, generator=g) * 2 - 1).to(torch.bfloat16)
    out = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
    est = max(2.0 * m * n * k / 300e12, wbytes / 3.5e12)
    launches = int(max(3, min(8 * copies, round(4e-3 / est))))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for i in range(3):
            torch.matmul(x, ws[i % copies].t(), out=out)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(launches):
            torch.matmul(x, ws[i % copies].t(), out=out)
    for _ in range(2):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    ref = (x[:1].float() @ ws[(launches - 1) % copies][:7].float().t())
    got = out[:1, :7].float()
    assert torch.allclose(got, ref, rtol=2e-2, atol=1e-2), (got, ref)
    del ws
    return times[len(times) // 2] * 1e3 / launches


SHAPES = [("q/o_proj (all three)", 4096, 4096), ("k/v_proj (Llama-3-8B, Qwen3-8B)", 1024, 4096),
          ("gate/up (Llama-2-7B)", 11008, 4096), ("down (Llama-2-7B)", 4096, 11008),
          ("gate/up (Llama-3-8B)", 14336, 4096), ("down (Llama-3-8B)", 4096, 14336),
          ("gate/up (Qwen3-8B); q|k|v (Llama-2-7B)", 12288, 4096), ("down (Qwen3-8B)", 4096, 12288),
          ("q|k|v (Llama-3-8B, Qwen3-8B)", 6144, 4096), ("gate|up (Llama-2-7B)", 22016, 4096),
          ("gate|up (Qwen3-8B)", 24576, 4096), ("gate|up (Llama-3-8B)", 28672, 4096)]
MS = [1, 8, 16, 32, 64, 128, 256, 512, 2048, 8192]


def alone():
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}: cuBLAS alone (torch.matmul, bf16 in and out)")
    for name, n, k in SHAPES:
        for m in MS:
            tus = time_matmul(m, n, k, None)
            print(f"{name:32s} N={n:5d} K={k:5d} M={m:5d} {tus:9.1f} us {2.0 * m * n * k / tus / 1e6:7.1f} TFLOP/s")
            print(f"PEER,{name},{n},{k},{m},{tus},{2.0 * m * n * k / tus / 1e6}")


def main():
    if sys.argv[1] == "--alone":
        return alone()
    rows = []
    copy = None
    extra = {}   # (kind, n, k, m) -> us, for GemmBench's "CSV,inv" (batch-invariant plan) and "CSV,mma" (mma.sync beside wgmma) lines
    for line in open(sys.argv[1]):
        if line.startswith(("CSV,inv,", "CSV,mma,", "CSV,wg,", "CSV,alt,", "CSV,tmad,", "CSV,bx,", "CSV,invold,", "CSV,invreg,", "CSV,invslab,")):
            f = line.strip().split(",")
            kind, f = f[1], f[2:]
            if kind == "inv":   # name..., n, k, m, us, splits
                extra[("inv", int(f[-5]), int(f[-4]), int(f[-3]))] = float(f[-2])
            elif kind in ("alt", "tmad"):   # name..., n, k, m, us, tiles, splits
                kind = "alt"   # a TMA decode tile (M <= 64) or the other TMA prefill tile: one column
                extra[("alt", int(f[-6]), int(f[-5]), int(f[-4]))] = float(f[-3])
                extra[("altname", int(f[-6]), int(f[-5]), int(f[-4]))] = f"{f[-2]} s={f[-1]}"
            else:               # name..., n, k, m, us (mma.sync, or cp.async wgmma beside TMA)
                extra[(kind, int(f[-4]), int(f[-3]), int(f[-2]))] = float(f[-1])
        if line.startswith("CSV,copy,"):
            copy = float(line.strip().split(",")[2])
        if line.startswith("CSV,gemm,"):
            f = line.strip().split(",")
            name, f = ",".join(f[2:-8]), f[-8:]   # shape names contain commas: the 8 fields after the name are fixed
            rows.append((name, int(f[0]), int(f[1]), int(f[2]), float(f[3]), float(f[5]), f[6], int(f[7])))
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, copy bandwidth (Arbor's run) {copy / 1e9:.0f} GB/s")
    print(f"{'shape':32s} {'N':>5s} {'K':>5s} {'M':>5s} | {'Arbor us':>9s} {'TF/s':>6s} | {'cuBLAS us':>9s} {'TF/s':>6s} | {'% cuBLAS':>8s} | {'% W floor':>9s} | "
          f"{'invariant us (% cuBLAS)':>23s} | {'mma.sync us (% cuBLAS)':>22s} | {'cp.async wgmma us (%)':>22s} | {'other/decode TMA us (%)':>23s} | {'bf16 X us (%)':>17s} | plan")
    worst = (1e9, None)
    peer = {}
    for name, n, k, m, us, floor, tiles, splits in rows:
        tus = time_matmul(m, n, k, None)
        tf, ttf = 2.0 * m * n * k / us / 1e6, 2.0 * m * n * k / tus / 1e6
        pct = 100.0 * tus / us
        worst = min(worst, (pct, f"{name} M={m}"))
        inv, mma = extra.get(("inv", n, k, m)), extra.get(("mma", n, k, m))
        inv_s = f"{inv:9.1f} ({100.0 * tus / inv:5.1f}%)" if inv else ""
        mma_s = f"{mma:9.1f} ({100.0 * tus / mma:5.1f}%)" if mma else ""
        wg, alt = extra.get(("wg", n, k, m)), extra.get(("alt", n, k, m))
        wg_s = f"{wg:9.1f} ({100.0 * tus / wg:5.1f}%)" if wg else ""
        alt_s = f"{alt:9.1f} ({100.0 * tus / alt:5.1f}%)" if alt else ""
        if alt and m <= 64:   # the decode TMA tile: % of the weight-read floor
            alt_s = f"{alt:9.1f} ({floor * us / alt:5.1f}% fl)"
        bx = extra.get(("bx", n, k, m))
        bx_s = f"{bx:8.1f} ({100.0 * tus / bx:5.1f}%)" if bx else ""
        best = min(x for x in (us, wg, alt if m > 64 else None) if x)
        best_pct = 100.0 * tus / best
        print(f"{name:32s} {n:5d} {k:5d} {m:5d} | {us:9.1f} {tf:6.1f} | {tus:9.1f} {ttf:6.1f} | {pct:7.1f}% | "
              f"{(f'{floor:8.1f}%' if floor >= 0 else ''):>9s} | {inv_s:>23s} | {mma_s:>22s} | {wg_s:>22s} | {alt_s:>23s} | {bx_s:>17s} | {tiles} s={splits}"
              + (f" (best of the wgmma tiles: {best_pct:.1f}% of cuBLAS; other = {extra.get(('altname', n, k, m))})" if alt and m > 64 else "")
              + (f" (decode TMA = {extra.get(('altname', n, k, m))})" if alt and m <= 64 else ""))
        print(f"PEER,{name},{n},{k},{m},{tus},{ttf}")
        peer[(name, n, k, m)] = tus
    print(f"slowest relative to cuBLAS: {worst[1]} at {worst[0]:.1f}% of cuBLAS")
    # the batch-invariant plan above 64 tokens: before (mma.sync slabs), now (its choice), and its two forms, % of cuBLAS
    print(f"\n{'invariant plan, shape':40s} {'M':>5s} | {'before us (%)':>16s} | {'now us (%)':>16s} | {'registers us (%)':>16s} | {'TMA slabs us (%)':>16s} | speed-up")
    for (name, n, k, m), tus in peer.items():
        old, now = extra.get(("invold", n, k, m)), extra.get(("inv", n, k, m))
        if not old or not now:
            continue
        cell = lambda v: f"{v:8.1f} ({100.0 * tus / v:5.1f}%)" if v else ""
        print(f"{name:40s} {m:5d} | {cell(old):>16s} | {cell(now):>16s} | {cell(extra.get(('invreg', n, k, m))):>16s} | "
              f"{cell(extra.get(('invslab', n, k, m))):>16s} | {old / now:.2f}x")
        print(f"INV,{name},{n},{k},{m},{tus},{old},{now},{extra.get(('invreg', n, k, m), '')},{extra.get(('invslab', n, k, m), '')}")


if __name__ == "__main__":
    main()
