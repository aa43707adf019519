"""Writes expected_chat_ids.json: what transformers' apply_chat_template gives for the
llama3 and qwen3 fixture tokenizers, so ChatTemplateTest can compare Arbor's jinjava
rendering token for token without Python in the build.

Usage (on the GPU machine, which has transformers; the tokenizer folders are copied from
../shared/fixtures/tokenizers into a git-ignored .chatdata/ and sent with `carry`):
    python3 make_chat_ids.py .chatdata $OUT/expected_chat_ids.json
"""
import json
import sys

import transformers
from transformers import AutoTokenizer

# Each conversation exercises a different branch of the templates: llama3's `trim`, qwen3's
# reverse scan for the last user query, its <think> splitting of assistant history, and
# tool-response grouping.
CONVERSATIONS = {
    "single_user": [
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "system_user": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "Why is the sky blue?"},
    ],
    "multi_turn": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hi! Can you count to three?"},
        {"role": "assistant", "content": "Sure: one, two, three."},
        {"role": "user", "content": "Now backwards, please."},
    ],
    "unicode": [
        {"role": "user", "content": "héllo wörld 你好 🎉🎉 ∑x² — naïve café, Ωmega, Привет, こんにちは"},
    ],
    "whitespace": [
        {"role": "user", "content": "  \n padded question with trailing spaces   \n\n"},
        {"role": "assistant", "content": "\n\n  padded answer  "},
        {"role": "user", "content": "\tand a tab"},
    ],
    "thinking_history": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\nIt is 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "thinking_after_last_query": [
        {"role": "user", "content": "Think, then answer: 5*5?"},
        {"role": "assistant", "content": "<think>\n5 times 5.\n</think>\n\n25."},
    ],
    "tool_responses": [
        {"role": "user", "content": "What's the weather in Paris and Rome?"},
        {"role": "assistant", "content": "Let me check."},
        {"role": "tool", "content": "{\"city\": \"Paris\", \"temp\": 18}"},
        {"role": "tool", "content": "{\"city\": \"Rome\", \"temp\": 24}"},
    ],
}


def ids_of(result):
    # transformers 5 returns a BatchEncoding (return_dict defaults to True); 4.x a list.
    if hasattr(result, "keys"):
        result = result["input_ids"]
    return [int(i) for i in result]


def main():
    root, out = sys.argv[1], sys.argv[2]
    cases = []
    for name in ("llama3", "qwen3"):
        tok = AutoTokenizer.from_pretrained(f"{root}/{name}")
        for conv_name, messages in CONVERSATIONS.items():
            for add_gen in (True, False):
                text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_gen)
                ids = ids_of(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=add_gen))
                # The engine encodes the rendered text without adding special tokens; check
                # that this is what transformers does too, so the expected ids are unambiguous.
                again = tok(text, add_special_tokens=False)["input_ids"]
                cases.append({
                    "tokenizer": name,
                    "conversation": conv_name,
                    "add_generation_prompt": add_gen,
                    "messages": messages,
                    "text": text,
                    "ids": ids,
                    "encode_without_specials_matches": again == ids,
                })
                print(f"{name:7s} {conv_name:28s} gen={add_gen!s:5s} {len(ids):4d} ids  re-encode equal: {again == ids}")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": f"transformers {transformers.__version__}", "cases": cases},
                  f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
