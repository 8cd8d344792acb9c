#!/usr/bin/env python3
"""Writes tiny Hugging Face style checkpoints (config.json + safetensors) for anec's tests.

One folder per case under tests/fixtures/checkpoints/: every supported architecture, tied and
untied embeddings, q/k/v biases, q/k norms with head_dim != hidden/heads, a sliding window,
single-file and sharded weights, f32/f16/bf16 storage. Weights are seeded random numbers, so the
folders are reproducible; transformers can load them for logit cross-checks.

Each folder also gets anec_expected.json: per tensor its dtype, shape, the sum of its values (as
float64 over the stored values) and its first values, which the C++ tests compare against.

The safetensors files are written by a small writer here (numpy has no bfloat16, and the format
is 8-byte little-endian header length + JSON header + data). When the `safetensors` and `torch`
packages are importable, every file is read back with them as an independent check.

Usage: .venv/bin/python tools/make_checkpoint_fixtures.py [--out tests/fixtures/checkpoints]
"""

import argparse
import json
import os
import struct
import zlib

import numpy as np

HIDDEN = 32
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 64
VOCAB = 128
LAYERS = 2


def to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def encode(x, dtype):
    """Returns (stored bytes, float64 values as stored) for a float32 array."""
    if dtype == "F32":
        a = x.astype(np.float32)
        return a.astype("<f4").tobytes(), a.astype(np.float64)
    if dtype == "F16":
        a = x.astype(np.float16)
        return a.astype("<f2").tobytes(), a.astype(np.float64)
    if dtype == "BF16":
        b = to_bf16_bits(x)
        return b.astype("<u2").tobytes(), from_bf16_bits(b).astype(np.float64)
    raise ValueError(dtype)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes). Data in the given order, header padded."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # data starts 8-byte aligned, as the reference does
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in tensors:
            f.write(data)
    os.replace(path + ".tmp", path)


def layer_tensors(arch, head_dim):
    q = HEADS * head_dim
    kv = KV_HEADS * head_dim
    out = []
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (HIDDEN,), "norm"),
                (p + "post_attention_layernorm.weight", (HIDDEN,), "norm"),
                (p + "self_attn.q_proj.weight", (q, HIDDEN), "w"),
                (p + "self_attn.k_proj.weight", (kv, HIDDEN), "w"),
                (p + "self_attn.v_proj.weight", (kv, HIDDEN), "w"),
                (p + "self_attn.o_proj.weight", (HIDDEN, q), "w")]
        if arch["bias"]:
            out += [(p + "self_attn.q_proj.bias", (q,), "b"),
                    (p + "self_attn.k_proj.bias", (kv,), "b"),
                    (p + "self_attn.v_proj.bias", (kv,), "b")]
        if arch["qk_norm"]:
            out += [(p + "self_attn.q_norm.weight", (head_dim,), "norm"),
                    (p + "self_attn.k_norm.weight", (head_dim,), "norm")]
        out += [(p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN), "w"),
                (p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN), "w"),
                (p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE), "w")]
    return out


def make_values(name, shape, kind):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if kind == "norm":
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    scale = 0.02 if kind == "b" else 1.0 / np.sqrt(shape[-1])
    return (scale * rng.standard_normal(shape)).astype(np.float32)


CASES = [
    dict(folder="llama_tied", cls="LlamaForCausalLM", model_type="llama", dtype="BF16",
         torch_dtype="bfloat16", tied=True, bias=False, qk_norm=False, shards=1,
         extra={"rope_theta": 500000.0,
                "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 64},
                "bos_token_id": 1, "eos_token_id": [2, 3]},
         generation={"bos_token_id": 1, "eos_token_id": [2, 3, 4]}),
    dict(folder="llama_untied", cls="LlamaForCausalLM", model_type="llama", dtype="F32",
         torch_dtype="float32", tied=False, bias=False, qk_norm=False, shards=1,
         extra={"rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 2.0},
                "bos_token_id": 1, "eos_token_id": 2}),
    dict(folder="qwen2_bias_sharded", cls="Qwen2ForCausalLM", model_type="qwen2", dtype="F16",
         torch_dtype="float16", tied=True, bias=True, qk_norm=False, shards=2,
         extra={"rope_theta": 1000000.0, "use_sliding_window": False, "sliding_window": 4096,
                "max_window_layers": LAYERS, "bos_token_id": 5, "eos_token_id": 6}),
    dict(folder="qwq_tiny", cls="Qwen2ForCausalLM", model_type="qwen2", dtype="BF16",
         torch_dtype="bfloat16", tied=False, bias=True, qk_norm=False, shards=1,
         extra={"rope_theta": 1000000.0, "use_sliding_window": False, "sliding_window": None,
                "max_window_layers": LAYERS, "bos_token_id": None, "eos_token_id": 6}),
    dict(folder="qwen3_qk_norm", cls="Qwen3ForCausalLM", model_type="qwen3", dtype="BF16",
         torch_dtype="bfloat16", tied=True, bias=False, qk_norm=True, shards=1, head_dim=16,
         extra={"rope_theta": 1000000.0, "use_sliding_window": False, "sliding_window": None,
                "attention_bias": False, "max_window_layers": LAYERS, "rope_scaling": None,
                "bos_token_id": 5, "eos_token_id": 6}),
    dict(folder="mistral_sliding_sharded", cls="MistralForCausalLM", model_type="mistral",
         dtype="F32", torch_dtype="float32", tied=False, bias=False, qk_norm=False, shards=3,
         extra={"rope_theta": 10000.0, "sliding_window": 16, "bos_token_id": 1,
                "eos_token_id": 2}),
]


def build(case, out_root):
    folder = os.path.join(out_root, case["folder"])
    os.makedirs(folder, exist_ok=True)
    head_dim = case.get("head_dim", HIDDEN // HEADS)
    config = {
        "architectures": [case["cls"]], "model_type": case["model_type"],
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "intermediate_size": INTERMEDIATE,
        "vocab_size": VOCAB, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
        "hidden_act": "silu", "tie_word_embeddings": case["tied"],
        "torch_dtype": case["torch_dtype"],
    }
    if "head_dim" in case:
        config["head_dim"] = head_dim
    config.update(case["extra"])

    specs = [("model.embed_tokens.weight", (VOCAB, HIDDEN), "w")]
    specs += layer_tensors(case, head_dim)
    specs.append(("model.norm.weight", (HIDDEN,), "norm"))
    if not case["tied"]:
        specs.append(("lm_head.weight", (VOCAB, HIDDEN), "w"))

    expected = {}
    encoded = []
    for name, shape, kind in specs:
        data, stored = encode(make_values(name, shape, kind), case["dtype"])
        encoded.append((name, case["dtype"], shape, data))
        flat = stored.reshape(-1)
        expected[name] = {"dtype": case["dtype"], "shape": list(shape),
                          "sum": float(flat.sum()), "first": [float(v) for v in flat[:4]]}

    for f in os.listdir(folder):
        if f.endswith(".safetensors") or f.endswith(".json"):
            os.remove(os.path.join(folder, f))
    meta = {"format": "pt"}
    n = case["shards"]
    files = {}
    if n == 1:
        files["model.safetensors"] = encoded
    else:
        # Round-robin over shards so every shard holds tensors of several layers.
        for i in range(n):
            files[f"model-{i + 1:05d}-of-{n:05d}.safetensors"] = encoded[i::n]
        weight_map = {t[0]: fname for fname, ts in files.items() for t in ts}
        index = {"metadata": {"total_size": sum(len(t[3]) for t in encoded)},
                 "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")
    for fname, ts in files.items():
        write_safetensors(os.path.join(folder, fname), ts, meta)

    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    if "generation" in case:
        with open(os.path.join(folder, "generation_config.json"), "w") as f:
            json.dump(case["generation"], f, indent=2)
            f.write("\n")
    with open(os.path.join(folder, "anec_expected.json"), "w") as f:
        json.dump({"tensors": expected}, f, indent=1, sort_keys=True)
        f.write("\n")
    cross_check(folder, files, expected)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{folder}: {len(specs)} tensors, {len(files)} file(s), {size} bytes")


def cross_check(folder, files, expected):
    """Reads every file back with the reference safetensors library, if installed."""
    try:
        import torch  # noqa: F401
        from safetensors import safe_open
    except ImportError:
        return
    for fname in files:
        with safe_open(os.path.join(folder, fname), framework="pt") as f:
            for name in f.keys():
                t = f.get_tensor(name).to(dtype=__import__("torch").float64).numpy().reshape(-1)
                want = expected[name]
                assert list(f.get_slice(name).get_shape()) == want["shape"], name
                assert np.array_equal(t[:4], np.array(want["first"])), name
                assert abs(t.sum() - want["sum"]) <= 1e-9 * max(1.0, abs(want["sum"])), name


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.normpath(
        os.path.join(here, "..", "tests", "fixtures", "checkpoints")))
    args = parser.parse_args()
    for case in CASES:
        build(case, args.out)


if __name__ == "__main__":
    main()
