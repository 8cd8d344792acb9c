"""Apple's coremltools decompresses the GGUF blocks `anec convert --preserve-quant` carries to the
same fp16 weights as the plain conversion stores, and as gguf-py (llama.cpp's own Python
dequantizer) gives.

tests/fixtures/gguf/tiny_kquant.gguf (tools/make_kquant_fixture.py) holds every quantized type.
It is converted twice with the `anec` binary (fp16, 2 chunks): with --preserve-quant and without.
For every constexpr op of every package of the first folder, coremltools' own decompression
(`materialized_val_inference`: numpy in fp16 for shift-scale, table lookups for LUTs) must equal,
bit for bit, the fp16 constant of the same name in the second folder; each layer matrix must
also equal fp16 of gguf-py's dequantization of its GGUF tensor (Q/K rows put back in Hugging
Face order), and take the form docs/GGUF_FORMAT.md gives its type.
"""
import os
import subprocess

import numpy as np
import pytest

import gguf
from coremltools.converters.mil.mil import types

from conftest import tool_path
from test_coremltools import load_package, vars_by_name

SOURCE_DIR = os.environ.get(
    "ANEC_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
)
FIXTURE = os.path.join(SOURCE_DIR, "tests", "fixtures", "gguf", "tiny_kquant.gguf")

TAGS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
        "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
# Carried form of each GGUF type: (op, code dtype, columns per scale / table); None = fp16.
FORMS = {
    "Q8_0": ("constexpr_blockwise_shift_scale", "int8", 32),
    "Q4_0": ("constexpr_blockwise_shift_scale", "int4", 32),
    "Q5_0": ("constexpr_blockwise_shift_scale", "int8", 32),
    "Q4_1": ("constexpr_lut_to_dense", "uint4", 32),
    "Q4_K": ("constexpr_lut_to_dense", "uint4", 32),
    "Q2_K": ("constexpr_lut_to_dense", "uint2", 16),
    "Q3_K": ("constexpr_lut_to_dense", "uint3", 16),
    "Q5_1": None, "Q5_K": None, "Q6_K": None,
}


def convert(out, preserve):
    anec = tool_path(os.path.join("src", "cli", "anec"))
    cmd = [anec, "convert", "--model", FIXTURE, "--output", str(out), "--context", "32",
           "--batch-size", "8", "--chunks", "2", "--lut", "none", "--skip-check",
           *(["--preserve-quant"] if preserve else [])]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stderr


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("preserved_gguf")
    log = convert(base / "kept", True)
    convert(base / "plain", False)
    return str(base / "kept"), str(base / "plain"), log


def packages(folder):
    return sorted(p[: -len(".mlpackage")] for p in os.listdir(folder) if p.endswith(".mlpackage"))


def hf_rows(w, heads):
    """llama.cpp's Q/K row order back to Hugging Face's (docs/GGUF_FORMAT.md)."""
    rows = w.shape[0]
    hd = rows // heads
    return w.reshape(heads, hd // 2, 2, -1).transpose(0, 2, 1, 3).reshape(rows, -1)


def test_fallback_types_are_named_once(folders):
    _, _, log = folders
    for t in ("Q5_1", "Q5_K", "Q6_K"):
        lines = [l for l in log.splitlines() if f" {t} matrices" in l]
        assert len(lines) == 1, (t, log)
        assert "dequantized to fp16" in lines[0]


def test_coremltools_decompresses_the_fp16_weights(folders):
    kept, plain, _ = folders
    reader = gguf.GGUFReader(FIXTURE)
    tensors = {t.name: t for t in reader.tensors}
    heads = int(reader.fields["llama.attention.head_count"].contents())
    kv_heads = int(reader.fields["llama.attention.head_count_kv"].contents())
    assert packages(kept) == packages(plain)
    checked, gguf_checked, forms = 0, 0, set()
    for name in packages(kept):
        _, kept_prog = load_package(kept, name)
        _, plain_prog = load_package(plain, name)
        for fn_name, fn in kept_prog.functions.items():
            plain_ops = vars_by_name(plain_prog.functions[fn_name])
            for op in fn.operations:
                if not op.op_type.startswith("constexpr_"):
                    continue
                dense = op.materialized_val_inference()
                assert dense.dtype == np.float16, op.name
                ref_op, _ = plain_ops[op.name]
                assert ref_op.op_type == "const", (name, op.name, ref_op.op_type)
                want = ref_op.val.val
                assert dense.shape == want.shape, op.name
                assert np.array_equal(dense.view(np.uint16), want.view(np.uint16)), (
                    name, fn_name, op.name,
                    float(np.abs(dense.astype(np.float32) - want.astype(np.float32)).max()))
                checked += 1
                # The layer matrices against gguf-py, and the form their type takes.
                parts = op.name.split("_", 2)
                if parts[0] != "layers" or parts[2] not in TAGS:
                    continue
                t = tensors[f"blk.{parts[1]}.{TAGS[parts[2]]}.weight"]
                form = FORMS[t.tensor_type.name]
                assert form is not None, (op.name, t.tensor_type.name, "should not be carried")
                assert op.op_type == form[0], (op.name, t.tensor_type.name)
                code = op.indices if op.op_type == "constexpr_lut_to_dense" else op.data
                assert types.builtin_to_string(code.dtype) == form[1], op.name
                blocks = (op.lut if op.op_type == "constexpr_lut_to_dense" else op.scale).shape[1]
                assert dense.shape[1] // blocks == form[2], op.name
                rows = [int(x) for x in reversed(t.shape)]
                ref = gguf.quants.dequantize(t.data, t.tensor_type).reshape(rows)
                if parts[2] in ("q_proj", "k_proj"):
                    ref = hf_rows(ref, heads if parts[2] == "q_proj" else kv_heads)
                ref16 = ref.astype(np.float16).reshape(dense.shape)
                assert np.array_equal(dense.view(np.uint16), ref16.view(np.uint16)), op.name
                gguf_checked += 1
                forms.add(t.tensor_type.name)
            # A type that is not carried stays an fp16 constant.
            for full, t in tensors.items():
                if not full.startswith("blk.") or FORMS.get(t.tensor_type.name, 1) is not None:
                    continue
                layer, role = full.split(".")[1], full.split(".")[2]
                const = f"layers_{layer}_" + next(k for k, v in TAGS.items() if v == role)
                if const in plain_ops:
                    kept_ops = vars_by_name(fn)
                    assert kept_ops[const][0].op_type == "const", const
    # Two functions of two chunks, every carried layer type, and the LM head pieces.
    assert forms == {k for k, v in FORMS.items() if v is not None}, forms
    assert gguf_checked >= 2 * 9, gguf_checked
    assert checked > gguf_checked, (checked, gguf_checked)
