#!/usr/bin/env python3
"""Writes tokenizer.model (a SentencePiece BPE ModelProto) from a Llama-2 style tokenizer.json.

llama.cpp's converter takes the SentencePiece path for a Llama model with a tokenizer.model; its other path
for tokenizer.json needs the `transformers` package, which no registry reachable here ships. A Llama-2
tokenizer.json (BPE with byte fallback, pieces in id order) holds everything a SentencePiece BPE model does:
each piece, its type (unknown, control, byte, normal) and its score (minus its rank, as Llama-2's own
tokenizer.model has it). The protobuf is written by hand (field numbers from sentencepiece_model.proto), so
nothing beyond the standard library is needed.

Usage: sp_model.py <model dir>   (reads <dir>/tokenizer.json, writes <dir>/tokenizer.model)
"""
import json
import struct
import sys
from pathlib import Path


def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def length_delimited(field: int, payload: bytes) -> bytes:
    return key(field, 2) + varint(len(payload)) + payload


def piece(text: str, score: float, kind: int) -> bytes:
    # SentencePiece { string piece = 1; float score = 2; Type type = 3; }  (NORMAL 1, UNKNOWN 2, CONTROL 3, BYTE 6)
    return length_delimited(1, text.encode("utf-8")) + key(2, 5) + struct.pack("<f", score) + key(3, 0) + varint(kind)


def main(model_dir: str) -> None:
    d = Path(model_dir)
    tok = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
    model = tok["model"]
    if model["type"] != "BPE" or not model.get("byte_fallback"):
        raise SystemExit("expected a Llama-2 style BPE tokenizer with byte fallback")
    vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    special = {t["content"] for t in tok.get("added_tokens", []) if t.get("special")}
    unk = model.get("unk_token") or "<unk>"
    body = bytearray()
    for text, i in vocab:
        if text == unk:
            kind = 2
        elif text in special:
            kind = 3
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            kind = 6
        else:
            kind = 1
        body += length_delimited(1, piece(text, 0.0 if kind != 1 else -float(i), kind))
    ids = dict(vocab)
    # TrainerSpec: model_type = 3 (BPE = 2), vocab_size = 4, byte_fallback = 35, unk/bos/eos/pad ids = 40..43
    trainer = key(3, 0) + varint(2) + key(4, 0) + varint(len(vocab)) + key(35, 0) + varint(1)
    trainer += key(40, 0) + varint(ids.get(unk, 0)) + key(41, 0) + varint(ids.get("<s>", 1))
    trainer += key(42, 0) + varint(ids.get("</s>", 2)) + key(43, 0) + varint(-1)
    body += length_delimited(2, trainer)
    # NormalizerSpec: name = 1 "identity", add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5
    normalizer = length_delimited(1, b"identity") + key(3, 0) + varint(1) + key(4, 0) + varint(0) + key(5, 0) + varint(1)
    body += length_delimited(3, normalizer)
    (d / "tokenizer.model").write_bytes(bytes(body))
    print(f"wrote {d / 'tokenizer.model'}: {len(vocab)} pieces")


if __name__ == "__main__":
    main(sys.argv[1])
