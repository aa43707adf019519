# Peer figures for the accel benchmarks (issue 3), run on the GPU machine beside AccelBench:
# device copy, y = a*x + y over 2^28 floats, and fp16 matrix x fp32-converted vector, timed with CUDA events.
import torch

def median_ms(fn, reps=20, trials=7):
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

n = 1 << 28
src, dst = torch.rand(n, device="cuda"), torch.empty(n, device="cuda")
ms = median_ms(lambda: dst.copy_(src))
print(f"torch copy_ 1 GiB (read+write)          {2 * 4 * n / ms / 1e6:8.1f} GB/s")
x, y = torch.rand(n, device="cuda"), torch.rand(n, device="cuda")
ms = median_ms(lambda: y.add_(x, alpha=0.5))
print(f"torch y.add_(x, alpha) 2^28 floats      {3 * 4 * n / ms / 1e6:8.1f} GB/s")
for rows, cols in [(4096, 4096), (11008, 4096)]:
    copies = max(1, (256 << 20) // (2 * rows * cols))
    ws = [torch.rand(rows, cols, device="cuda", dtype=torch.float16) - 0.5 for _ in range(copies)]
    v = torch.rand(cols, device="cuda", dtype=torch.float16)
    i = [0]
    def mv():
        torch.mv(ws[i[0] % copies], v); i[0] += 1
    ms = median_ms(mv)
    print(f"torch.mv fp16 {rows}x{cols}              {2 * rows * cols / ms / 1e6:8.1f} GB/s")
    # The same launches captured in a CUDA graph and replayed, as AccelBench's "graph replay" rows.
    per_graph = copies * max(1, (80 + copies - 1) // copies)
    out = torch.empty(rows, device="cuda", dtype=torch.float16)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for k in range(3):
            torch.mv(ws[k % copies], v, out=out)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for k in range(per_graph):
            torch.mv(ws[k % copies], v, out=out)
    ms = median_ms(g.replay, reps=1) / per_graph
    print(f"torch.mv fp16 {rows}x{cols}, CUDA graph  {2 * rows * cols / ms / 1e6:8.1f} GB/s")
