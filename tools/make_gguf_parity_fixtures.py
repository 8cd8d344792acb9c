#!/usr/bin/env python3
"""Writes GGUF twins of parity fixtures, and small GGUFs with malformed rope_freqs.weight.

  tests/fixtures/parity/<case>/model.gguf   the case's model.safetensors (fp16) in llama.cpp's
      GGUF layout, written with the `gguf` package (llama.cpp's own writer): llama.cpp tensor
      names and metadata keys; for the "llama" architecture the Q/K rows permuted as llama.cpp's
      converter permutes them; llama3 rope scaling stored the way llama.cpp's converter stores it,
      as rope_freqs.weight (one float32 divisor per rotary frequency) and no scaling metadata.
      The parity tests convert it and compare with the same transformers reference.json as the
      safetensors folder, so the GGUF path is checked against transformers, not against anec.
  tests/fixtures/gguf/rope_freqs_bad_shape.gguf  a llama header whose rope_freqs has 3 values
      (head_dim 8 needs 4)
  tests/fixtures/gguf/rope_freqs_negative.gguf   4 values, one of them negative

Needs numpy, gguf and safetensors (scripts/setup-venv.sh ci); no torch.
Regenerate: .venv/bin/python tools/make_gguf_parity_fixtures.py [case ...]
"""
import json
import math
import os
import sys

import numpy as np
import gguf
from safetensors.numpy import load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
CASES = ["llama_untied", "llama3_tied", "qwen2_tied", "qwen3_headdim", "phi3_fused",
         "r1_distill_qwen", "r1_distill_llama", "gemma3_iswa"]
GGUF_ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "phi3": "phi3",
             "gemma3_text": "gemma3"}

# Gemma 3 in llama.cpp's layout: ffn_norm is the MLP's input norm (pre_feedforward_layernorm);
# the attention and MLP output norms have names of their own.
GEMMA3_LAYER_NAMES = {
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
}

# Hugging Face suffix -> GGUF name ("{}" = layer).
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    # Phi-3's fused projections (llama.cpp keeps them fused: attn_qkv, and ffn_up holding the
    # gate rows then the up rows).
    "self_attn.qkv_proj.weight": "attn_qkv.weight",
    "mlp.gate_up_proj.weight": "ffn_up.weight",
}
TOP_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def llama_cpp_permute(w, heads):
    """llama.cpp's converter: interleave the two rotary halves of every head."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(theta, dim, rs):
    """The divisors llama.cpp's converter writes as rope_freqs.weight for rope_type llama3."""
    freqs = 1.0 / (np.float32(theta) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    factor = rs["factor"]
    low, high = rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
    old_ctx = rs.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / float(f)
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_case(case):
    d = os.path.join(ROOT, "parity", case)
    cfg = json.load(open(os.path.join(d, "config.json")))
    weights = load_file(os.path.join(d, "model.safetensors"))
    arch = GGUF_ARCH[cfg["model_type"]]
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    if "full_attention" in rope:  # per-layer-type rope (Gemma 3): the global layers' is the model's
        rope = rope["full_attention"]
    theta = cfg.get("rope_theta", rope.get("rope_theta", 10000.0))

    w = gguf.GGUFWriter(os.path.join(d, "model.gguf"), arch)
    w.add_name(case)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(theta)
    w.add_rope_dimension_count(head_dim)
    if head_dim != cfg["hidden_size"] // heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if cfg.get("sliding_window") and arch in ("phi3", "gemma3"):
        w.add_sliding_window(cfg["sliding_window"])
    if arch == "gemma3":
        # llama.cpp's converter writes key/value lengths for Gemma 3 always, and the global
        # layers' linear rope scaling; the local rope base and the layer pattern are not stored.
        if head_dim == cfg["hidden_size"] // heads:
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        if rope.get("rope_type") == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(rope["factor"])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    if rope.get("rope_type", rope.get("type")) == "llama3":
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(theta, head_dim, rope))
    for name, t in sorted(weights.items()):
        if name in TOP_NAMES:
            gname = TOP_NAMES[name]
        else:
            parts = name.split(".")
            assert parts[:2] == ["model", "layers"], name
            suffix = ".".join(parts[3:])
            table = dict(LAYER_NAMES, **GEMMA3_LAYER_NAMES) if arch == "gemma3" else LAYER_NAMES
            gname = f"blk.{parts[2]}." + table[suffix]
        t = t.astype(np.float16) if t.ndim == 2 else t.astype(np.float32)  # llama.cpp: norms/biases f32
        if arch == "gemma3" and name.endswith("norm.weight"):
            t = t + np.float32(1.0)  # llama.cpp's converter stores Gemma's norm gains 1 + w
        if arch == "llama" and gname.endswith("attn_q.weight"):
            t = llama_cpp_permute(t, heads)
        if arch == "llama" and gname.endswith("attn_k.weight"):
            t = llama_cpp_permute(t, kv_heads)
        w.add_tensor(gname, np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_bad(name, factors):
    w = gguf.GGUFWriter(os.path.join(ROOT, "gguf", name), "llama")
    w.add_block_count(1)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(8)
    w.add_tensor("rope_freqs.weight", np.array(factors, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    only = set(sys.argv[1:])  # case names, to regenerate only those
    for case in CASES:
        if not only or case in only:
            write_case(case)
    if only:
        return
    write_bad("rope_freqs_bad_shape.gguf", [1.0, 2.0, 4.0])
    write_bad("rope_freqs_negative.gguf", [1.0, 2.0, -4.0, 8.0])


if __name__ == "__main__":
    main()
