# Engine-level peer of `arbor bench throughput` and `arbor bench shared-prefix` (performance issue 12), run on the
# GPU machine in the same call as Arbor's benchmarks: HF transformers, random weights of the Llama-2-7B shape
# (fp16, sdpa attention, seeded), greedy, EOS ignored, the same token counts.
#   single stream: 128-token prompt, 256 new tokens (model.generate, static shapes, no compile)
#   seed workload 1: 107 requests = a 530-token prefix + 20 own tokens, 30 new each, as one batch
#   seed workload 2: 500 requests = a 752-token prefix + 28 own tokens, 30 new each, in batches of --w2-batch
#     (all 500 at once need ~210 GB of KV cache; HF keeps a dense cache per request, no sharing)
# Prints its floors from rates measured here: torch copy_ (read+write) and a bf16 matmul.
# Writes one JSON object to --json.  Usage: python3 engine_torch.py [--json out.json] [--only decode,w1,w2]
import argparse, json, time, datetime
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--json", default=None)
ap.add_argument("--only", default="decode,w1,w2")
ap.add_argument("--w2-batch", type=int, default=125)
args = ap.parse_args()
only = set(args.only.split(","))

import transformers
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
dev = torch.device("cuda")
out = {"peer": "HF transformers " + transformers.__version__ + ", torch " + torch.__version__, "device": torch.cuda.get_device_name(),
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "figures": {}}
print("peer:", out["peer"], "on", out["device"], out["date"], flush=True)

def median_ms(fn, reps=10, trials=7):
    fn(); torch.cuda.synchronize()
    t = []
    for _ in range(trials):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps): fn()
        e.record(); e.synchronize()
        t.append(s.elapsed_time(e) / reps)
    return sorted(t)[len(t) // 2]

n = 1 << 28
src, dst = torch.rand(n, device=dev), torch.empty(n, device=dev)
copy = 2 * 4 * n / median_ms(lambda: dst.copy_(src)) / 1e6   # GB/s, read + write
del src, dst
a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16); b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
tflops = 2 * 8192 ** 3 / median_ms(lambda: a @ b) / 1e9
del a, b
torch.cuda.empty_cache()
print(f"copy {copy:.0f} GB/s, bf16 matmul 8192^3 {tflops:.0f} TFLOP/s", flush=True)
out["copy_GBps"], out["matmul_TFLOPs"] = copy, tflops

cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                  vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5)
cfg._attn_implementation = "sdpa"
t0 = time.time()
torch.set_default_dtype(torch.float16)
with dev:
    model = LlamaForCausalLM(cfg)
torch.set_default_dtype(torch.float32)
model.eval()
params = sum(p.numel() for p in model.parameters())
weight_bytes = 2 * (params - cfg.vocab_size * cfg.hidden_size)   # a decode step reads every weight once (the embedding only per token)
floor_ms = weight_bytes / copy / 1e6
print(f"model: {params/1e9:.2f} B params fp16 random, built in {time.time()-t0:.1f} s; decode floor {weight_bytes/1e9:.2f} GB / {copy:.0f} GB/s = {floor_ms:.2f} ms/step", flush=True)
out["decode_floor_ms"] = floor_ms

g = torch.Generator().manual_seed(1)
def tokens(n):
    return torch.randint(3, 32000, (n,), generator=g)

@torch.inference_mode()
def generate(batch_ids, new):
    torch.cuda.synchronize(); t = time.time()
    o = model.generate(input_ids=batch_ids.to(dev), attention_mask=torch.ones_like(batch_ids).to(dev), max_new_tokens=new, min_new_tokens=new,
                       do_sample=False, pad_token_id=0, eos_token_id=None)
    torch.cuda.synchronize()
    assert o.shape[1] == batch_ids.shape[1] + new, o.shape
    return time.time() - t

def fig(name, value, unit, floor=None):
    out["figures"][name] = {"value": value, "unit": unit, "floor": floor}
    print(f"  {name:40s} {value:10.3f} {unit}" + (f"   floor {floor:.3f} {unit}" if floor else ""), flush=True)

generate(tokens(16)[None], 4)   # warm-up
if "decode" in only:
    p = tokens(128)[None]
    t_prefill = min(generate(p, 1) for _ in range(2))
    t_all = generate(p, 256)
    per_tok = (t_all - t_prefill) / 255
    fig("single-stream decode ms/token", 1000 * per_tok, "ms/token", floor_ms)
    fig("single-stream decode tokens/s", 1 / per_tok, "tokens/s", 1000 / floor_ms)
    fig("single-stream 128+256 total s", t_all, "s")

def workload(name, requests, prefix, suffix, new, batch):
    pre = tokens(prefix)
    ids = torch.stack([torch.cat([pre, tokens(suffix)]) for _ in range(requests)])
    generate(ids[:min(batch, 8)], 2)   # warm-up at this length
    t = 0.0
    for i in range(0, requests, batch):
        t += generate(ids[i:i + batch], new)
    fig(f"{name} total s ({requests} x {prefix}+{suffix}, {new} new, batches of {batch})", t, "s", new * floor_ms / 1000)
    torch.cuda.empty_cache()

if "w1" in only:
    workload("seed workload 1", 107, 530, 20, 30, 107)
if "w2" in only:
    workload("seed workload 2", 500, 752, 28, 30, args.w2_batch)
if args.json:
    with open(args.json, "w") as f: json.dump(out, f, indent=1)
    print("json:", args.json)
