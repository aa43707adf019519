#!/usr/bin/env bash
# Arbor against llama.cpp on this machine's CPU, same weights, both engines interleaved (issue 15).
#
#   bench/peers/llamacpp.sh [all|fetch|build|convert|bench]      (default: all)
#
# fetch    npm pack node-llama-cpp (the npm registry ships llama.cpp's source as llama/gitRelease.bundle),
#          git clone the bundle into $CACHE/src. Nothing of llama.cpp enters the checkout.
# build    cmake Release, GGML_NATIVE=ON (AVX2/AVX-512 as this CPU has them), targets llama-bench,
#          llama-batched-bench and llama-parallel (examples/parallel, its system prompt made settable: patch_parallel),
#          at nice 19 with -j$JOBS (about 30 minutes on 2 idle cores; longer when shared).
# convert  writes synthetic:$SHAPE as a Hugging Face directory (config.json, bf16 model.safetensors, Llama-2
#          tokenizer) and converts it with llama.cpp's own convert_hf_to_gguf.py to a bf16 GGUF. Needs Debian's
#          python3-torch, -numpy, -sentencepiece, -yaml, -tqdm (installed with apt-get when missing and root).
# bench    $RUNS rounds, each: Arbor batch 1, Arbor batch 8, Arbor 16 requests sharing a $PROMPT-token prefix with 32
#          own tokens each and 32 out (bench shared-prefix), llama-batched-bench (npl 1 and 8), llama-parallel doing the
#          shared row's work (16 clients, the $PROMPT-token system prompt computed once and given to all, each client's
#          32 own tokens, 32 out; with one unified KV buffer and with a KV stream per client), and llama-batched-bench
#          -pps (the whole $((PROMPT + 32))-token prompt shared: less work than Arbor's), all with $THREADS threads, prompt
#          $PROMPT tokens, $GEN generated; prints every run, the medians and the ratios, llama-parallel's token counts,
#          and the load average before each run (`uptime`): other work on the machine moves these figures.
#
# Environment: CACHE (default ~/.cache/arbor-peers/llama.cpp), NODE_LLAMA_CPP (npm version, default latest),
# SHAPE (100m), RUNS (3), THREADS (2), PROMPT (512), GEN (128), JOBS (2), JAVA_HOME (a JDK 25), ARBOR_ARGS (added to
# Arbor's bench commands, e.g. "--kv-cache-dtype bf16": a 16-bit KV cache as llama.cpp's default f16 one).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${CACHE:-$HOME/.cache/arbor-peers/llama.cpp}"
ARBOR_ARGS="${ARBOR_ARGS:-}" SHAPE="${SHAPE:-100m}" RUNS="${RUNS:-3}" THREADS="${THREADS:-2}" PROMPT="${PROMPT:-512}" GEN="${GEN:-128}" JOBS="${JOBS:-2}"
model_dir="$CACHE/models/synthetic-$SHAPE"
gguf="$CACHE/models/synthetic-$SHAPE-bf16.gguf"
log() { echo "[llamacpp.sh] $*" >&2; }

fetch() {
  mkdir -p "$CACHE"
  if [ -d "$CACHE/src/.git" ]; then log "source already in $CACHE/src"; return; fi
  (cd "$CACHE" && rm -rf package node-llama-cpp-*.tgz && npm pack --silent "node-llama-cpp@${NODE_LLAMA_CPP:-latest}" >/dev/null &&
    tar xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle package/llama/binariesGithubRelease.json &&
    git clone -q package/llama/gitRelease.bundle src)
  log "llama.cpp release $(cat "$CACHE/package/llama/binariesGithubRelease.json" | tr -d ' \n') from $(ls "$CACHE"/node-llama-cpp-*.tgz)"
}

# examples/parallel (llama-parallel, the shared row) takes its system prompt from a string compiled in (k_system, about
# 300 tokens) and has no flag for it: this adds one environment variable, ARBOR_PEER_SYSTEM_PROMPT_FILE, whose file
# replaces that string, so the shared prefix can be Arbor's 512 tokens. Nothing else in the program changes. Applied
# once to the fetched source (outside the checkout), before the build.
patch_parallel() {
  local f="$CACHE/src/examples/parallel/parallel.cpp"
  grep -q ARBOR_PEER_SYSTEM_PROMPT_FILE "$f" && return
  perl -0pi -e 's/(#include <ctime>\n)/$1#include <cstdlib>\n#include <fstream>\n#include <sstream>\n/;
    s/(\n    common_init\(\);\n)/$1\n    \/\/ added by Arbor'"'"'s bench\/peers\/llamacpp.sh: the system prompt from a file (its whole text, as k_system)\n    if (const char * sys = std::getenv("ARBOR_PEER_SYSTEM_PROMPT_FILE")) {\n        std::ifstream in(sys);\n        if (!in) {\n            LOG_ERR("cannot read ARBOR_PEER_SYSTEM_PROMPT_FILE %s\\n", sys);\n            return 1;\n        }\n        std::stringstream text;\n        text << in.rdbuf();\n        k_system = text.str();\n    }\n/' "$f"
  grep -q ARBOR_PEER_SYSTEM_PROMPT_FILE "$f" || { log "could not patch $f"; exit 2; }
  log "patched $f (ARBOR_PEER_SYSTEM_PROMPT_FILE)"
}

build() {
  [ -d "$CACHE/src" ] || fetch
  patch_parallel
  cmake -S "$CACHE/src" -B "$CACHE/src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >"$CACHE/cmake-config.log"
  nice -n 19 cmake --build "$CACHE/src/build" --config Release -j"$JOBS" --target llama-bench llama-batched-bench llama-parallel >"$CACHE/build.log"
  log "built $(ls "$CACHE"/src/build/bin/llama-batched-bench)"
}

python_deps() {
  if /usr/bin/python3 -c "import torch, numpy, sentencepiece, yaml, tqdm" 2>/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-torch python3-numpy \
      python3-sentencepiece python3-yaml python3-tqdm >"$CACHE/apt.log"
  else
    log "needs Debian's python3-torch python3-numpy python3-sentencepiece python3-yaml python3-tqdm"; exit 2
  fi
}

convert() {
  [ -d "$CACHE/src" ] || fetch
  python_deps
  export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" PATH="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin:$PATH"
  if [ ! -f "$model_dir/model.safetensors" ]; then
    # package (what ./arbor builds; -DskipTests still compiles the test classes, SyntheticExport among them), never
    # install: ~/.m2 is left as it was; server/target/lib holds every runtime jar the models module needs
    (cd "$root" && mvn -o -q -B package -DskipTests >/dev/null)
    java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
      -cp "$root/models/target/classes:$root/models/target/test-classes:$root/server/target/lib/*" \
      dev.arbor.models.synthetic.SyntheticExport "$SHAPE" "$model_dir" "$root/../shared/fixtures/tokenizers/llama2" 2>/dev/null
  fi
  /usr/bin/python3 "$root/bench/peers/sp_model.py" "$model_dir"
  # The converter imports `transformers` at module level (AutoConfig, with a fallback to config.json when it fails)
  # and names torch's float8 dtypes, which Debian's PyTorch 1.13 lacks: a stand-in package and a sitecustomize
  # cover both, outside the checkout. Neither changes a tensor.
  mkdir -p "$CACHE/pyshim/transformers"
  cat >"$CACHE/pyshim/transformers/__init__.py" <<'EOF'
# Stand-in written by bench/peers/llamacpp.sh: no registry reachable here ships `transformers`.
class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise ImportError("transformers stand-in: the converter falls back to reading config.json")

class AutoTokenizer(AutoConfig):
    pass
EOF
  cat >"$CACHE/pyshim/sitecustomize.py" <<'EOF'
# Written by bench/peers/llamacpp.sh: Debian's PyTorch (1.13) predates the float8 dtypes that llama.cpp's
# converter names in its dtype tables; bf16 checkpoints never use them, so any placeholder will do.
try:
    import torch
    for _name in ("float8_e4m3fn", "float8_e5m2"):
        if not hasattr(torch, _name):
            setattr(torch, _name, torch.uint8)
except ImportError:
    pass
EOF
  PYTHONPATH="$CACHE/pyshim:$CACHE/src/gguf-py" /usr/bin/python3 "$CACHE/src/convert_hf_to_gguf.py" "$model_dir" \
    --outtype bf16 --outfile "$gguf" >"$CACHE/convert.log" 2>&1
  log "converted to $gguf"
}

bench() {
  [ -f "$gguf" ] || convert
  [ -x "$CACHE/src/build/bin/llama-parallel" ] || build
  python_deps
  # llama-parallel's prompts: a system prompt of $PROMPT tokens (BOS included) and 16 client lines of 32 tokens each
  local prompts="$CACHE/prompts-$SHAPE-$PROMPT"
  /usr/bin/python3 "$root/bench/peers/shared_prompts.py" "$model_dir" "$prompts" "$PROMPT" 32 16 >&2
  local out="$CACHE/runs-$(date -u +%Y%m%dT%H%M%S)"
  mkdir -p "$out"
  log "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|f16c|avx512f|avx512_bf16|avx_vnni)$' | tr '\n' ' ')"
  log "logs in $out"
  for r in $(seq 1 "$RUNS"); do
    for b in 1 8; do
      echo "$(uptime)" >"$out/arbor-b$b-$r.log"
      "$root/arbor" bench throughput --model "$model_dir" --batch "$b" --prompt-len "$PROMPT" --output-len "$GEN" \
        --max-num-batched-tokens "$PROMPT" $ARBOR_ARGS >>"$out/arbor-b$b-$r.log" 2>/dev/null
      grep -E '^(prefill|decode):' "$out/arbor-b$b-$r.log" | sed "s/^/arbor b$b run $r: /" >&2
    done
    # 16 requests sharing a $PROMPT-token prefix, 32 own tokens each, 32 out (the prefix cache's workload)
    echo "$(uptime)" >"$out/arbor-shared-$r.log"
    "$root/arbor" bench shared-prefix --model "$model_dir" --groups 1 --prompts-per-group 16 --prefix-len "$PROMPT" \
      --suffix-len 32 --output-len 32 --modes auto --json $ARBOR_ARGS >>"$out/arbor-shared-$r.log" 2>/dev/null
    grep '^{' "$out/arbor-shared-$r.log" | sed "s/^/arbor shared run $r: /" >&2
    echo "$(uptime)" >"$out/llama-$r.log"
    "$CACHE/src/build/bin/llama-batched-bench" -m "$gguf" -c $((8 * (PROMPT + GEN) + 64)) -b "$PROMPT" -ub "$PROMPT" \
      -npp "$PROMPT" -ntg "$GEN" -npl 1,8 -t "$THREADS" -tb "$THREADS" --output-format jsonl >>"$out/llama-$r.log" 2>/dev/null
    grep '^{' "$out/llama-$r.log" | sed "s/^/llama.cpp run $r: /" >&2
    # Arbor's shared row in llama.cpp: examples/parallel with -pps computes the system prompt ($PROMPT tokens) once in
    # sequence 0 and copies it to the 16 clients' sequences (llama_memory_seq_cp), then every client's own 32 tokens
    # ("User:\n" + line + "\nAssistant:\n") in one batch, then decodes them together; greedy (--top-k 1). -n 31: 31 decode
    # steps after the prompt, so 32 tokens sampled per client, as Arbor's --output-len 32 (the prefill samples the
    # first). Its clock starts at the system prompt (after loading). Two KV layouts: -kvu, one buffer whose prefix cells
    # carry all 16 sequence ids (shared, as Arbor's prefix cache; every client's attention spans the whole buffer,
    # masked), and a stream per sequence (n_ctx / 17 each; the prefix's cells copied into each stream).
    for kv in kvu split; do
      if [ "$kv" = kvu ]; then kvargs=(-kvu -c $((PROMPT + 16 * 64 + 64))); else kvargs=(-c $((17 * (PROMPT + 128)))); fi
      echo "$(uptime)" >"$out/llama-parallel-$kv-$r.log"
      ARBOR_PEER_SYSTEM_PROMPT_FILE="$prompts/system.txt" "$CACHE/src/build/bin/llama-parallel" -m "$gguf" \
        -f "$prompts/clients.txt" -pps -np 16 -ns 16 -n 31 --junk 1 "${kvargs[@]}" -b 2048 -ub 512 -t "$THREADS" \
        -tb "$THREADS" --top-k 1 --temp 0 -s 1 >>"$out/llama-parallel-$kv-$r.log" 2>&1
      grep -aE 'system tokens|Total|Cache misses' "$out/llama-parallel-$kv-$r.log" | tail -4 | sed "s/^/llama.cpp parallel $kv run $r: /" >&2
    done
    # llama-batched-bench's shared-prompt mode (-pps, one unified KV cache -kvu so the prompt's cells are shared, not
    # copied): the whole $((PROMPT + 32))-token prompt, own tokens included, is computed once for the 16 sequences: less
    # work than Arbor's (which computes each request's 32 own tokens); kept beside the parallel rows
    echo "$(uptime)" >"$out/llama-shared-$r.log"
    "$CACHE/src/build/bin/llama-batched-bench" -m "$gguf" -c $((PROMPT + 32 + 16 * 32 + 64)) -kvu -b 2048 -ub 512 \
      -npp $((PROMPT + 32)) -ntg 32 -npl 16 -pps -t "$THREADS" -tb "$THREADS" --output-format jsonl >>"$out/llama-shared-$r.log" 2>/dev/null
    grep '^{' "$out/llama-shared-$r.log" | sed "s/^/llama.cpp shared run $r: /" >&2
  done
  python3 - "$out" "$RUNS" "$PROMPT" <<'EOF'
import json, re, statistics, sys, pathlib
out, runs, prompt = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def arbor(b, r, what):
    text = (out / f"arbor-b{b}-{r}.log").read_text()
    return float(re.search(rf"^{what}:.*= ([0-9.]+) tokens/s", text, re.M).group(1))
def llama(r, pl, key):
    for line in (out / f"llama-{r}.log").read_text().splitlines():
        if line.startswith("{") and json.loads(line)["pl"] == pl:
            return json.loads(line)[key]
def arbor_shared(r):
    for line in (out / f"arbor-shared-{r}.log").read_text().splitlines():
        if line.startswith("{"):
            return json.loads(line)["totalSeconds"]
def llama_shared(r):
    for line in (out / f"llama-shared-{r}.log").read_text().splitlines():
        if line.startswith("{"):
            return json.loads(line)["t"]
def parallel(kv, r, check=None):
    # seconds from the system prompt's start to the last client's end: generated tokens over the printed speed
    text = (out / f"llama-parallel-{kv}-{r}.log").read_text(errors="replace")
    prompt_n = re.search(r"Total prompt tokens: +(\d+), speed", text).group(1)
    gen_n, gen_s = re.search(r"Total gen tokens: +(\d+), speed: +([0-9.]+) t/s", text).groups()
    if check is not None:
        # its log lines start with the time since the program started (minutes.seconds.ms.us): the system prompt's own time
        at = lambda what: (lambda m: 60 * int(m[1]) + int(m[2]) + int(m[3]) / 1e3 + int(m[4]) / 1e6)(
            re.search(r"(\d+)\.(\d+)\.(\d+)\.(\d+) I [^\n]*" + what, text))
        system_s = at("Processing requests") - at("Evaluating the system prompt")
        system = int(re.findall(r"system tokens = (\d+)", text)[-1])
        clients = re.findall(r"Client +\d+, seq +\d+/ *\d+, prompt +(\d+) t, response +(\d+) t", text)
        own, steps = {int(p) for p, _ in clients}, {int(g) for _, g in clients}
        same = system == prompt and len(clients) == 16 and own == {32} and steps == {31}
        check.append(("" if same else f"NOT ARBOR'S WORK (expected a {prompt}-token system prompt, 16 clients, 32 own tokens, 31 steps): ") +
                     f"{kv} run {r}: system prompt {system} tokens, {len(clients)} clients, own prompt tokens "
                     f"{sorted(own)}, decode steps per client {sorted(steps)} "
                     f"(+1 token sampled at the prompt), totals {prompt_n} prompt / {gen_n} decoded; system prompt {system_s:.3f} s "
                     f"of {int(gen_n) / float(gen_s):.3f}")
    return int(gen_n) / float(gen_s)
def load(path):
    return re.search(r"load average: ([0-9.]+)", path.read_text().splitlines()[0]).group(1)
rows = [
    ("prefill 1 x prompt (tokens/s)", lambda r: arbor(1, r, "prefill"), lambda r: llama(r, 1, "speed_pp")),
    ("decode batch 1 (tokens/s)", lambda r: arbor(1, r, "decode"), lambda r: llama(r, 1, "speed_tg")),
    ("decode batch 8 (tokens/s)", lambda r: arbor(8, r, "decode"), lambda r: llama(r, 8, "speed_tg")),
]
# (clock, log, load) in the order they ran
loads = sorted((p.read_text(errors="replace").split()[0], p.stem, load(p)) for p in out.glob("*.log"))
checks = []
for kv in ("kvu", "split"):
    for r in range(1, runs + 1):
        parallel(kv, r, checks)
times = [
    ("16 requests sharing 512 tokens, 32 own, 32 out: llama-parallel -pps, one unified KV (s; ratio = llama.cpp / Arbor)", arbor_shared, lambda r: parallel("kvu", r)),
    ("same, llama-parallel -pps, a KV stream per client (prefix copied) (s)", arbor_shared, lambda r: parallel("split", r)),
    ("the whole 544-token prompt shared, llama-batched-bench -pps (less work than Arbor's) (s)", arbor_shared, llama_shared),
]
# the per-round ratio pairs the two engines' runs of one round (minutes apart): the VM's speed drifts between rounds
print(f"| workload | Arbor (median of {runs}) | llama.cpp (median of {runs}) | Arbor / llama.cpp | Arbor runs | llama.cpp runs | ratio per round |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name, a, l in rows:
    av, lv = [a(r) for r in range(1, runs + 1)], [l(r) for r in range(1, runs + 1)]
    am, lm = statistics.median(av), statistics.median(lv)
    print(f"| {name} | {am:.1f} | {lm:.1f} | {am / lm:.2f}x | {', '.join(f'{v:.1f}' for v in av)} | {', '.join(f'{v:.1f}' for v in lv)} "
          f"| {', '.join(f'{a / l:.2f}' for a, l in zip(av, lv))} |")
for name, a, l in times:
    av, lv = [a(r) for r in range(1, runs + 1)], [l(r) for r in range(1, runs + 1)]
    am, lm = statistics.median(av), statistics.median(lv)
    print(f"| {name} | {am:.2f} | {lm:.2f} | {lm / am:.2f}x | {', '.join(f'{v:.2f}' for v in av)} | {', '.join(f'{v:.2f}' for v in lv)} "
          f"| {', '.join(f'{l / a:.2f}' for a, l in zip(av, lv))} |")
print("load average (1 min) before each run: " + ", ".join(f"{c} {name} {l}" for c, name, l in loads))
print("llama-parallel's counts:")
for c in checks:
    print("  " + c)
EOF
}

case "${1:-all}" in
  fetch) fetch ;;
  build) build ;;
  convert) convert ;;
  bench) bench ;;
  all) fetch; [ -x "$CACHE/src/build/bin/llama-batched-bench" ] || build; [ -f "$gguf" ] || convert; bench ;;
  patch) patch_parallel ;;
  *) echo "usage: $0 [all|fetch|build|convert|bench]" >&2; exit 2 ;;
esac
