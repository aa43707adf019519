# Peer figures for AttentionBench (issue 11), run on the GPU machine in the same call: torch SDPA on the
# same shapes (dense, bf16, 32 heads x 128), timed with CUDA events (median of 7), rotating over copies
# so more than 256 MiB is touched per timing loop (the 50 MB L2 cannot serve small cases).
#   decode: q (B, 32, 1, 128) against K/V (B, 32, ctx, 128): GB/s of K/V read
#   shared prefix: B sequences of different lengths as one padded SDPA with a key mask (what a dense peer does)
#   prefill: causal SDPA (flash backend forced) on one sequence, 512..8k: TFLOP/s (4*D FLOPs per visible pair per head)
# `python attention_torch.py prefill` runs the prefill part only; ATTN_PEER_SKIP_PREFILL=1 leaves it out (decode-only runs).
import os
import sys
import torch
import torch.nn.functional as F

torch.manual_seed(0)
H, D = 32, 128

def median_ms(fn, reps=10, trials=7):
    fn(); torch.cuda.synchronize()
    times = []
    for _ in range(trials):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps):
            fn()
        e.record(); e.synchronize()
        times.append(s.elapsed_time(e) / reps)
    return sorted(times)[len(times) // 2]

print("device:", torch.cuda.get_device_name(), "torch", torch.__version__)
n = 1 << 28
src, dst = torch.rand(n, device="cuda"), torch.empty(n, device="cuda")
copy = 2 * 4 * n / median_ms(lambda: dst.copy_(src)) / 1e6  # GB/s
print(f"torch copy_ 1 GiB (read+write) {copy:8.1f} GB/s")

def prefill():
    """Causal prefill, one sequence, bf16, forced onto SDPA's flash backend (FlashAttention-2): TFLOP/s."""
    from torch.nn.attention import sdpa_kernel, SDPBackend
    print("-- prefill, causal SDPA, one sequence, flash backend")
    for T in (512, 1024, 2048, 4096, 8192):
        q = torch.rand(1, H, T, D, device="cuda", dtype=torch.bfloat16) * 2 - 1
        k = torch.rand(1, H, T, D, device="cuda", dtype=torch.bfloat16) * 2 - 1
        v = torch.rand(1, H, T, D, device="cuda", dtype=torch.bfloat16) * 2 - 1
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        flops = 4.0 * D * H * T * (T + 1) / 2
        print(f"torch prefill (flash) {T:5d} tokens: {ms:9.3f} ms  {flops / ms / 1e9:7.2f} TFLOP/s")

if len(sys.argv) > 1 and sys.argv[1] == "prefill":   # the prefill part only (FlashPrefillBench's peer)
    prefill()
    sys.exit(0)

print("-- decode, torch SDPA (default backend choice)")
for B in (1, 32, 128):
    for ctx in (512, 1024, 2048, 4096, 8192, 16384, 32768):
        if B * ctx > 262144:
            continue
        kv_bytes = 2 * B * ctx * H * D * 2
        copies = max(1, min(8, (256 << 20) // kv_bytes))
        ks = [torch.rand(B, H, ctx, D, device="cuda", dtype=torch.bfloat16) - 0.5 for _ in range(copies)]
        vs = [torch.rand(B, H, ctx, D, device="cuda", dtype=torch.bfloat16) - 0.5 for _ in range(copies)]
        q = torch.rand(B, H, 1, D, device="cuda", dtype=torch.bfloat16)
        i = [0]
        def step():
            F.scaled_dot_product_attention(q, ks[i[0] % copies], vs[i[0] % copies]); i[0] += 1
        ms = median_ms(step, reps=max(10, copies))
        gbs = kv_bytes / ms / 1e6
        print(f"torch decode batch {B:3d} ctx {ctx:5d}: {ms*1e3:8.1f} us  {gbs:7.1f} GB/s  {100*gbs/copy:5.1f}% of copy rate")
        del ks, vs
        torch.cuda.empty_cache()

print("-- shared prefix, torch SDPA padded with a key mask (one decode query per sequence)")
for B, prefix in ((107, 530), (500, 752)):
    lens = [prefix + 20 + (i * 7) % 31 for i in range(B)]
    L = max(lens)
    k = torch.rand(B, H, L, D, device="cuda", dtype=torch.bfloat16) - 0.5
    v = torch.rand(B, H, L, D, device="cuda", dtype=torch.bfloat16) - 0.5
    q = torch.rand(B, H, 1, D, device="cuda", dtype=torch.bfloat16)
    mask = (torch.arange(L, device="cuda")[None, :] < torch.tensor(lens, device="cuda")[:, None])[:, None, None, :]
    ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    floor_us = ((prefix // 16) * 16 + sum(l - (prefix // 16) * 16 for l in lens)) * 2 * H * D * 2 / (copy * 1e3)
    print(f"torch {B:3d} seqs sharing {prefix}: {ms*1e3:8.1f} us (floor {floor_us:6.1f} us)")
    del k, v
    torch.cuda.empty_cache()

if not os.environ.get("ATTN_PEER_SKIP_PREFILL"):
    prefill()
