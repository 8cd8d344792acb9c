#!/usr/bin/env python3
"""Writes tiny GPTQ and AWQ int4 checkpoints for anec's pre-quantized reader tests.

Starts from the fp16 parity model tests/fixtures/parity/llama_untied (hidden 64, 3 layers),
quantizes every decoder linear with round-to-nearest per-group min/max (we test the file format,
not GPTQ's optimizer), and writes, under tests/fixtures/gptq/:

  gptq_llama/  GPTQ, checkpoint_format "gptq" (v1: qzeros store zero - 1), group_size 32,
               desc_act true (g_idx is a permuted grouping), sym false. Rows 0-7 of group 0
               of layer 0's up_proj get zero 16 (stored nibble 15): what a v1 file holds where
               AutoGPTQ packed a zero of 0 as -1 & 0xF, and what v1 readers then use.
  awq_llama/   AWQ gemm packing (nibble order 0,2,4,6,1,3,5,7), group_size 32, zero_point true.

Each folder holds config.json (with quantization_config), model.safetensors and
expected_weights.safetensors: W[out, in] float32 = float32(scale) * (q - zero) for the layer-0
attention projections, the layer-0 down_proj and up_proj, computed here from the unpacked codes,
before and independently of any packing, plus the fp16 originals of those weights except up_proj
under "original.<name>" (so tests can bound the quantization error without the parity fixture;
up_proj's forced zeros of 16 are off that bound by design).
Norms, embeddings and lm_head stay fp16, unquantized.

Usage: .venv/bin/python tools/make_gptq_fixture.py [--source DIR] [--out DIR]
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import load_file, save_file

GROUP_SIZE = 32
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # nibble k of an AWQ int32 holds column 8c + AWQ_ORDER[k]
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
ZERO16_LINEAR = "mlp.up_proj"  # GPTQ only: a few zero points of 16 (see above)
EXPECTED = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.down_proj"]


def group_index(in_features, group_size, rng):
    """g_idx[i] for each input feature; act-order when rng is given (GPTQ desc_act)."""
    order = rng.permutation(in_features) if rng is not None else np.arange(in_features)
    g_idx = np.empty(in_features, dtype=np.int32)
    g_idx[order] = np.arange(in_features) // group_size
    return g_idx


def quantize_rtn(w, g_idx, min_zero):
    """Per (row, group) asymmetric 4-bit RTN. Returns codes [out,in], zeros [out,G], fp16 scales."""
    out_f, _ = w.shape
    groups = int(g_idx.max()) + 1
    codes = np.zeros(w.shape, dtype=np.uint8)
    zeros = np.zeros((out_f, groups), dtype=np.uint8)
    scales = np.zeros((out_f, groups), dtype=np.float16)
    for g in range(groups):
        cols = np.nonzero(g_idx == g)[0]
        block = w[:, cols]
        lo = np.minimum(block.min(axis=1), 0.0)
        hi = np.maximum(block.max(axis=1), 0.0)
        scale = np.maximum((hi - lo) / 15.0, 1e-4).astype(np.float16)
        s32 = scale.astype(np.float32)
        zero = np.clip(np.round(-lo / s32), min_zero, 15).astype(np.int32)
        q = np.clip(np.round(block / s32[:, None]) + zero[:, None], 0, 15)
        codes[:, cols] = q.astype(np.uint8)
        zeros[:, g] = zero.astype(np.uint8)
        scales[:, g] = scale
    return codes, zeros, scales


def dequantize(codes, zeros, scales, g_idx):
    s = scales.astype(np.float32)[:, g_idx]
    z = zeros.astype(np.float32)[:, g_idx]
    return (s * (codes.astype(np.float32) - z)).astype(np.float32)


def pack_nibbles(values, order):
    """values [rows, 8*n] (0..15) -> int32 [rows, n]; nibble k of word c = values[:, 8c+order[k]]."""
    rows, cols = values.shape
    v = values.astype(np.uint32).reshape(rows, cols // 8, 8)
    word = np.zeros((rows, cols // 8), dtype=np.uint32)
    for k in range(8):
        word |= v[:, :, order[k]] << np.uint32(4 * k)
    return word.view(np.int32)


def pack_gptq(codes, zeros, scales, g_idx, zeros_minus_one):
    # qweight [in/8, out]: nibble k of qweight[r, o] = q[8r + k, o]; pack along the input dim.
    qweight = pack_nibbles(codes, list(range(8))).T.copy()  # codes [out,in] -> [out,in/8] -> T
    stored = zeros.astype(np.int32) - (1 if zeros_minus_one else 0)
    assert stored.min() >= 0 and stored.max() <= 15, "zero out of the nibble's range"
    qzeros = pack_nibbles(stored.T, list(range(8)))  # [G, out/8]
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales.T.copy(),
            "g_idx": g_idx.astype(np.int32)}


def pack_awq(codes, zeros, scales):
    qweight = pack_nibbles(codes.T.copy(), AWQ_ORDER)  # [in, out/8]
    qzeros = pack_nibbles(zeros.T.copy(), AWQ_ORDER)  # [G, out/8]
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales.T.copy()}


def unpack_check(packed, codes, zeros, fmt, zeros_minus_one):
    """Round-trips the packing with a second, loop-based reading of the bits."""
    qw = packed["qweight"].view(np.uint32)
    out_f, in_f = codes.shape
    for o in range(0, out_f, 7):
        for i in range(0, in_f, 5):
            if fmt == "gptq":
                got = (int(qw[i // 8, o]) >> (4 * (i % 8))) & 0xF
            else:
                k = AWQ_ORDER.index(o % 8)
                got = (int(qw[i, o // 8]) >> (4 * k)) & 0xF
            assert got == codes[o, i], (fmt, o, i)
    qz = packed["qzeros"].view(np.uint32)
    for o in range(out_f):
        k = o % 8 if fmt == "gptq" else AWQ_ORDER.index(o % 8)
        got = ((int(qz[0, o // 8]) >> (4 * k)) & 0xF) + (1 if zeros_minus_one else 0)
        assert got == zeros[o, 0], (fmt, o)


def write_model(out_dir, name, base_config, qconfig, tensors, expected):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    cfg = dict(base_config)
    cfg["quantization_config"] = qconfig
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file(tensors, os.path.join(d, "model.safetensors"))
    save_file(expected, os.path.join(d, "expected_weights.safetensors"))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=os.path.join(root, "tests/fixtures/parity/llama_untied"))
    ap.add_argument("--out", default=os.path.join(root, "tests/fixtures/gptq"))
    args = ap.parse_args()

    with open(os.path.join(args.source, "config.json")) as f:
        base_config = json.load(f)
    weights = load_file(os.path.join(args.source, "model.safetensors"))
    layers = base_config["num_hidden_layers"]
    rng = np.random.default_rng(20261126)

    formats = {
        "gptq_llama": {"quant_method": "gptq", "bits": 4, "group_size": GROUP_SIZE,
                       "desc_act": True, "sym": False, "true_sequential": True,
                       "damp_percent": 0.01, "static_groups": False,
                       "checkpoint_format": "gptq"},
        "awq_llama": {"quant_method": "awq", "bits": 4, "group_size": GROUP_SIZE,
                      "zero_point": True, "version": "gemm", "modules_to_not_convert": None},
    }
    for name, qconfig in formats.items():
        is_gptq = qconfig["quant_method"] == "gptq"
        tensors, expected = {}, {}
        worst = 0.0
        quantized = set()
        for layer in range(layers):
            for lin in LINEARS:
                prefix = f"model.layers.{layer}.{lin}"
                w = weights[prefix + ".weight"].astype(np.float32)
                g_idx = group_index(w.shape[1], GROUP_SIZE, rng if is_gptq else None)
                codes, zeros, scales = quantize_rtn(w, g_idx, min_zero=1 if is_gptq else 0)
                if is_gptq and layer == 0 and lin == ZERO16_LINEAR:
                    zeros[:8, 0] = 16
                deq = dequantize(codes, zeros, scales, g_idx)
                worst = max(worst, float(np.abs(deq - w).max()))
                if is_gptq:
                    packed = pack_gptq(codes, zeros, scales, g_idx, zeros_minus_one=True)
                else:
                    packed = pack_awq(codes, zeros, scales)
                unpack_check(packed, codes, zeros, "gptq" if is_gptq else "awq", is_gptq)
                for k, v in packed.items():
                    tensors[f"{prefix}.{k}"] = v
                quantized.add(prefix + ".weight")
                if layer == 0 and (lin in EXPECTED or lin == ZERO16_LINEAR):
                    expected[prefix + ".weight"] = deq
                if layer == 0 and lin in EXPECTED:
                    expected["original." + prefix + ".weight"] = weights[prefix + ".weight"]
        for k, v in weights.items():
            if k not in quantized:
                tensors[k] = v
        write_model(args.out, name, base_config, qconfig, tensors, expected)
        print(f"{name}: {len(quantized)} linears, max |dequantized - fp16| = {worst:.5f}")


if __name__ == "__main__":
    main()
