#!/usr/bin/env python3
"""Regenerates tests/fixtures/text/: small tokenizers and their reference outputs.

Tokenizers are trained here with the Hugging Face `tokenizers` library on the committed corpus
(tests/fixtures/text/corpus.txt), each configured like one model family's tokenizer.json, so the
C++ tokenizer can be checked id for id without the (unreachable) Hub. Chat-template reference
renders come from jinja2 configured the way transformers' apply_chat_template configures it.

Usage: .venv/bin/python tools/make_text_fixtures.py [--only tokenizers|templates]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "text")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Split regexes as they appear in the public tokenizer.json files of these families.
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Texts every tokenizer is checked on (written for these tests).
TEXTS = [
    "",
    " ",
    "Hello world",
    "Hello world!  How are you?\n",
    "  leading and trailing spaces  ",
    "I'm sure you'LL see they'D won't",
    "Numbers 1234567 and 3.14159 and 000123",
    "Tabs\tand\nnewlines\r\nand\n\n\nblank lines",
    "def f(x):\n    return x ** 2  # square\n",
    "Ça va? Très bien. Größe Straße.",
    "Combining: e\u0301 a\u0308 o\u0302 (decomposed) vs é ä ô",
    "Москва и Привет мир",
    "東京は日本の首都です。你好，世界！",
    "한국어 문장 안녕하세요",
    "Emoji 😀👍🏽❤️🇫🇷👨‍👩‍👧‍👦 done",
    "Rare chars: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ₿ ⚙ 🜁",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>",
    "text<s>with</s>sentencepiece<unk>markers",
    "<think>\nreasoning\n</think>\n\nanswer",
    "<|endoftext|><|endoftext|>x",
    "Mixed: https://example.org/a?b=1 someone@example.com 2024-05-17",
    "     many     spaces     ",
    "\n\n\n",
    "ends with space ",
    "Whitespace before special <|im_end|> and after",
    "The quick brown fox jumps over the lazy dog. " * 3,
]


def read_corpus():
    with open(os.path.join(FIXTURES, "corpus.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    # Repeat so the trainer sees enough pair counts for a vocabulary of a few thousand.
    return lines * 4


def byte_level_family(name, split_regex, specials, extra_added, bos=None, use_regex=False,
                      normalizer=None, vocab_size=2400):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, processors, trainers
    from tokenizers import AddedToken

    tok = Tokenizer(models.BPE(ignore_merges=(name == "llama3")))
    if normalizer is not None:
        tok.normalizer = normalizer
    if split_regex:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(split_regex),
                                 behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=use_regex)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(read_corpus(), trainer)
    tok.add_tokens(extra_added)
    if bos:
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))]),
        ])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def sentencepiece_family(metaspace):
    """Llama 2 / Mistral style: byte_fallback BPE over ▁-marked text, <0xXX> tokens in vocab."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, processors
    from tokenizers import trainers, Regex  # noqa: F401

    # Train on ▁-normalized text, then rebuild the vocab with the 256 byte tokens up front.
    base = Tokenizer(models.BPE())
    base.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<unk>", "<s>", "</s>"],
                                  show_progress=False)
    # Train without CJK, Hangul and emoji lines so those characters need byte_fallback later.
    # (limit_alphabet would do it too, but breaks frequency ties in hash order: not reproducible.)
    base.train_from_iterator([line for line in read_corpus() if all(ord(c) < 0x2000 for c in line)],
                             trainer)
    trained = json.loads(base.to_str())
    old_vocab = trained["model"]["vocab"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(old_vocab.items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    model = models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                                            for m in trained["model"]["merges"]],
                       unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    tok = Tokenizer(model)
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ["<unk>", "<s>", "</s>"]])
    if metaspace:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first",
                                                     split=False)
        tok.decoder = decoders.Sequence([
            decoders.ByteFallback(),
            decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)])
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                               normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    return tok


def build_tokenizers():
    from tokenizers import AddedToken, normalizers
    fams = {
        "llama3": byte_level_family(
            "llama3", LLAMA3_REGEX,
            ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eot_id|>"], [], bos="<|begin_of_text|>"),
        "qwen2": byte_level_family(
            "qwen2", QWEN2_REGEX, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            [AddedToken("<think>", special=False, normalized=False),
             AddedToken("</think>", special=False, normalized=False),
             AddedToken("hello world", special=False, normalized=True)],
            normalizer=normalizers.NFC()),
        "smollm": byte_level_family(
            "smollm", None, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], [], use_regex=True),
        "llama2": sentencepiece_family(metaspace=False),
        "mistral_metaspace": sentencepiece_family(metaspace=True),
    }
    return fams


def write_json(path, obj, compact=False):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def make_tokenizer_fixtures():
    out_dir = os.path.join(FIXTURES, "tokenizers")
    os.makedirs(out_dir, exist_ok=True)
    expected = {}
    for name, tok in build_tokenizers().items():
        tok.save(os.path.join(out_dir, name + ".json"), pretty=False)
        cases = []
        for text in TEXTS:
            ids = tok.encode(text, add_special_tokens=False).ids
            ids_special = tok.encode(text, add_special_tokens=True).ids
            cases.append({
                "text": text,
                "ids": ids,
                "ids_with_special": ids_special,
                "decoded": tok.decode(ids, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
            })
        expected[name] = {"vocab_size": tok.get_vocab_size(with_added_tokens=True), "cases": cases}
        print(f"{name}: vocab {tok.get_vocab_size()} tokens")
    write_json(os.path.join(FIXTURES, "tokenizer_expected.json"), expected)


# A fixed clock for strftime_now so the C++ test can reproduce the render (2026-01-15 12:00 UTC).
FIXED_NOW = 1768478400


def compile_like_transformers(template_text):
    """The jinja2 environment of transformers' apply_chat_template, with a fixed clock."""
    import datetime
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
        compiled = _compile_jinja_template(template_text)
    except ImportError:  # no transformers: rebuild its environment from its documented settings
        import jinja2
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                              sort_keys=sort_keys)

        class Generation(jinja2.ext.Extension):
            tags = {"generation"}

            def parse(self, parser):
                lineno = next(parser.stream).lineno
                body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
                return jinja2.nodes.Scope(body).set_lineno(lineno)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[Generation, jinja2.ext.loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        compiled = env.from_string(template_text)
    compiled.globals["strftime_now"] = (
        lambda fmt: datetime.datetime.fromtimestamp(FIXED_NOW).strftime(fmt))
    return compiled


def render_reference(template_text, messages, add_generation_prompt, extra):
    compiled = compile_like_transformers(template_text)
    kwargs = {"tools": None, "documents": None}
    kwargs.update(extra)
    return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt, **kwargs)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}

BASIC = [
    {"role": "system", "content": "  You are terse.  "},
    {"role": "user", "content": "Hi! What's 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "Und auf Deutsch? 日本語も 🙂"},
]
NO_SYSTEM = [{"role": "user", "content": "Hello there"}]
QWEN_THINKING = [
    {"role": "system", "content": "Think first."},
    {"role": "user", "content": "Is 91 prime?"},
    {"role": "assistant", "content": "<think>\n91 = 7 * 13\n</think>\n\nNo, 91 = 7 × 13."},
    {"role": "user", "content": "And 97?"},
    {"role": "assistant", "content": "Yes, 97 is prime.", "reasoning_content": "\nCheck 2,3,5,7.\n"},
]
QWEN_TOOLS = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather",
                                          "arguments": {"city": "Paris", "unit": "celsius"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "tool", "content": "{\"sky\": \"clear\"}"},
    {"role": "assistant", "content": "21 °C and clear."},
]
LLAMA_TOOL_CALL = [
    {"role": "system", "content": "Use tools when needed."},
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
    {"role": "ipython", "content": {"temp": -3, "sky": "snow"}},
]
BAD_ALTERNATION = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
LLAMA_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
MISTRAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}
CHATML_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}

TEMPLATE_CASES = [
    ("llama3_style", "basic", BASIC, True, LLAMA_TOKENS),
    ("llama3_style", "basic_no_prompt", BASIC, False, LLAMA_TOKENS),
    ("llama3_style", "no_system", NO_SYSTEM, True, LLAMA_TOKENS),
    ("llama3_style", "fixed_date", NO_SYSTEM, True, dict(LLAMA_TOKENS, date_string="26 Jul 2024")),
    ("llama3_style", "tools_in_user", BASIC, True, dict(LLAMA_TOKENS, tools=[WEATHER_TOOL])),
    ("llama3_style", "tools_in_system", LLAMA_TOOL_CALL, True,
     dict(LLAMA_TOKENS, tools=[WEATHER_TOOL], tools_in_user_message=False)),
    ("qwen_style", "basic", BASIC, True, CHATML_TOKENS),
    ("qwen_style", "default_system", NO_SYSTEM, True, dict(CHATML_TOKENS, default_system="Be kind.")),
    ("qwen_style", "thinking", QWEN_THINKING, False, CHATML_TOKENS),
    ("qwen_style", "thinking_off", QWEN_THINKING[:4], True, dict(CHATML_TOKENS, enable_thinking=False)),
    ("qwen_style", "thinking_on", QWEN_THINKING[:4], True, dict(CHATML_TOKENS, enable_thinking=True)),
    ("qwen_style", "tools", QWEN_TOOLS, True, dict(CHATML_TOKENS, tools=[WEATHER_TOOL])),
    ("mistral_style", "basic", BASIC, False, MISTRAL_TOKENS),
    ("mistral_style", "no_system", NO_SYSTEM, True, MISTRAL_TOKENS),
    ("mistral_style", "bad_alternation", BAD_ALTERNATION, False, MISTRAL_TOKENS),
    ("smollm_style", "basic", BASIC, True, CHATML_TOKENS),
    ("smollm_style", "no_system", NO_SYSTEM, True, CHATML_TOKENS),
    ("smollm_style", "no_prompt", NO_SYSTEM, False, CHATML_TOKENS),
    ("constructs", "basic", BASIC, True, {}),
    ("constructs", "single", NO_SYSTEM, False, {}),
]


def make_template_fixtures():
    import jinja2
    out = []
    for template, name, messages, add_gen, extra in TEMPLATE_CASES:
        with open(os.path.join(FIXTURES, "templates", template + ".jinja"), encoding="utf-8") as f:
            text = f.read()
        case = {"template": template, "name": name, "messages": messages,
                "add_generation_prompt": add_gen, "extra_vars": extra}
        try:
            case["expected"] = render_reference(text, messages, add_gen, extra)
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e)
        out.append(case)
    write_json(os.path.join(FIXTURES, "chat_expected.json"),
               {"now": FIXED_NOW, "cases": out})
    print(f"chat templates: {len(out)} renders")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["tokenizers", "templates"])
    args = parser.parse_args()
    if args.only in (None, "tokenizers"):
        make_tokenizer_fixtures()
    if args.only in (None, "templates"):
        make_template_fixtures()


if __name__ == "__main__":
    main()
