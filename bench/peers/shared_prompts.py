#!/usr/bin/env python3
# Usage: shared_prompts.py <model dir> <out dir> PREFIX OWN N   (bench/peers/llamacpp.sh runs it)
# Writes the shared row's prompts for llama-parallel: system.txt, whose text is PREFIX tokens with the BOS the
# program adds, and clients.txt, N lines, each making "User:\n" + line + "\nAssistant:\n" (the program's client
# prompt, tokenized without BOS) exactly OWN tokens. Words are the vocabulary's own whole-word pieces, picked by a
# fixed seed; every count is checked with the model's tokenizer.model (the one llama.cpp's converter read).
import random, re, sys
import sentencepiece as spm
from pathlib import Path
model_dir, out, prefix, own, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sp = spm.SentencePieceProcessor(model_file=str(Path(model_dir) / "tokenizer.model"))
words = [sp.id_to_piece(i)[1:] for i in range(sp.get_piece_size()) if re.fullmatch("\u2581[a-z]{3,9}", sp.id_to_piece(i))]
rnd = random.Random(15)
def build(count, target, wrap=lambda s: s):
    text = []
    while count(wrap(" ".join(text))) < target:
        w = rnd.choice(words)
        if count(wrap(" ".join(text + [w]))) <= target:
            text.append(w)
    return " ".join(text)
system = build(lambda s: 1 + len(sp.encode(s)), prefix)   # + BOS
clients = [build(lambda s: len(sp.encode(s)), own, lambda s: "User:\n" + s + "\nAssistant:\n") for _ in range(n)]
assert 1 + len(sp.encode(system)) == prefix and all(len(sp.encode("User:\n" + c + "\nAssistant:\n")) == own for c in clients)
out.mkdir(parents=True, exist_ok=True)
(out / "system.txt").write_text(system)
(out / "clients.txt").write_text("\n".join(clients))
print(f"{out}: system {1 + len(sp.encode(system))} tokens with BOS, clients "
      f"{sorted({len(sp.encode('User:' + chr(10) + c + chr(10) + 'Assistant:' + chr(10))) for c in clients})} tokens each ({n} lines)")
