#!/usr/bin/env python3
"""Writes a synthetic checkpoint with the exact tensor shapes of Llama-3.2-1B (for benchmarks).

16 layers, hidden 2048, intermediate 8192, 32 heads, 8 KV heads, vocab 128256, tied embeddings,
rope_scaling llama3. Weights are random bf16 (fixed seed) drawn directly as bit patterns, so the
script needs little memory and no torch. Output: <dir>/config.json and <dir>/model.safetensors
(about 2.5 GB). Never commit the output.

  python3 tools/make_synthetic_llama.py /tmp/synth-llama-1b
"""
import json
import os
import struct
import sys

import numpy as np

HIDDEN, INTER, LAYERS, HEADS, KV_HEADS, VOCAB = 2048, 8192, 16, 32, 8, 128256
HEAD_DIM = HIDDEN // HEADS

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": INTER,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "head_dim": HEAD_DIM,
    "vocab_size": VOCAB,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "attention_bias": False,
}


def tensors():
    """(name, shape, kind) in file order; kind 'norm' is near 1, 'matrix' is small."""
    out = [("model.embed_tokens.weight", (VOCAB, HIDDEN), "matrix")]
    for l in range(LAYERS):
        p = f"model.layers.{l}."
        out += [
            (p + "input_layernorm.weight", (HIDDEN,), "norm"),
            (p + "self_attn.q_proj.weight", (HEADS * HEAD_DIM, HIDDEN), "matrix"),
            (p + "self_attn.k_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN), "matrix"),
            (p + "self_attn.v_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN), "matrix"),
            (p + "self_attn.o_proj.weight", (HIDDEN, HEADS * HEAD_DIM), "matrix"),
            (p + "post_attention_layernorm.weight", (HIDDEN,), "norm"),
            (p + "mlp.gate_proj.weight", (INTER, HIDDEN), "matrix"),
            (p + "mlp.up_proj.weight", (INTER, HIDDEN), "matrix"),
            (p + "mlp.down_proj.weight", (HIDDEN, INTER), "matrix"),
        ]
    out.append(("model.norm.weight", (HIDDEN,), "norm"))
    return out


def random_bf16(rng, n, kind):
    """Random bf16 bit patterns: |x| in [2^-10, 2^-5) for matrices, [1, 2) for norms."""
    mant = rng.integers(0, 128, size=n, dtype=np.uint16)
    if kind == "norm":
        return (np.uint16(127) << np.uint16(7)) | mant
    sign = rng.integers(0, 2, size=n, dtype=np.uint16) << np.uint16(15)
    exp = rng.integers(117, 122, size=n, dtype=np.uint16) << np.uint16(7)
    return sign | exp | mant


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    header, offset = {}, 0
    for name, shape, _ in tensors():
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    rng = np.random.default_rng(1234)
    path = os.path.join(out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape, kind in tensors():
            n = int(np.prod(shape))
            step = 1 << 24  # write in 32 MB pieces to bound memory
            for start in range(0, n, step):
                f.write(random_bf16(rng, min(step, n - start), kind).astype("<u2").tobytes())
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({offset / 1e9:.2f} GB of tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
