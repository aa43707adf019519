"""Writes verbatim_content_cases.json: message contents that look like template code
(`{{ 7*7 }}`, `{% if %}`, `{# #}`, `{% raw %}`, stray braces), in every role and at every
position of a conversation, rendered by Jinja2 exactly as transformers' apply_chat_template
renders them (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, the
same tojson / raise_exception / strftime_now globals, the tokenizer's special tokens). Jinja2
never re-renders the output of an expression, so each content reaches the text verbatim.

transformers is not installed where this was generated; jinja2 is, and the environment below
is transformers' `_compile_jinja_template` (chat_template_utils.py) minus the `{% generation %}`
extension, which neither fixture template uses.

Usage: python3 make_verbatim_cases.py ../../../../../../shared/fixtures/tokenizers verbatim_content_cases.json
"""
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

CODE_LIKE = [
    "What is {{ 7*7 }}?",
    "{% if true %}yes{% else %}no{% endif %}",
    "{# a comment #}visible",
    "{{ messages }} {{ bos_token }} {{ raise_exception('boom') }}",
    "{% for m in messages %}{{ m.content }}{% endfor %}",
    "{% raw %}{{ x }}{% endraw %}",
    "unbalanced {{ and {% and {#",
    "}} %} #} closers {{- x -}}",
    "{%- set x = 1 -%}{{ x }}",
    "{{ '{{' }}nested{{ '}}' }}",
]


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: "unused"
    return env


def conversations():
    # Every role, at the first, a middle and the last position; qwen3 treats the last assistant
    # turn after the last user query differently (think block), so both are covered.
    for i, c in enumerate(CODE_LIKE):
        other = CODE_LIKE[(i + 3) % len(CODE_LIKE)]
        yield f"user_last_{i}", [{"role": "user", "content": c}]
        yield f"system_first_{i}", [{"role": "system", "content": c}, {"role": "user", "content": "hi"}]
        yield f"history_{i}", [
            {"role": "system", "content": other},
            {"role": "user", "content": c},
            {"role": "assistant", "content": c},
            {"role": "user", "content": other},
        ]
        yield f"assistant_last_{i}", [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": c},
        ]
        yield f"tool_{i}", [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "checking"},
            {"role": "tool", "content": c},
            {"role": "tool", "content": other},
        ]


def main():
    root, out = sys.argv[1], sys.argv[2]
    env = environment()
    cases = []
    for name in ("llama3", "qwen3"):
        with open(f"{root}/{name}/tokenizer_config.json", encoding="utf-8") as f:
            config = json.load(f)
        template = env.from_string(config["chat_template"])
        specials = {k: config[k] for k in ("bos_token", "eos_token") if isinstance(config.get(k), str)}
        for conv_name, messages in conversations():
            for add_gen in (True, False):
                text = template.render(messages=messages, tools=None, documents=None,
                                       add_generation_prompt=add_gen, **specials)
                cases.append({"tokenizer": name, "conversation": conv_name, "add_generation_prompt": add_gen,
                              "messages": messages, "text": text})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": f"jinja2 {jinja2.__version__} (transformers' chat environment)", "cases": cases},
                  f, ensure_ascii=False, indent=1)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
