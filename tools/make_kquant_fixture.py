#!/usr/bin/env python3
"""Writes tests/fixtures/gguf/tiny_kquant.gguf: a 2-layer Llama (hidden 256 so that rows hold whole
K-quant super-blocks) whose matrices use every quantized type anec knows, for the
--preserve-quant tests (src/pipeline/preserve_quant_test.cc, tests/python/test_preserved_gguf.py).
The tokenizer and chat template are tiny_llama.gguf's. Types:

  layer 0: q Q4_K, k Q2_K, v Q3_K, o Q5_0, gate Q6_K, up Q5_K, down Q4_1
  layer 1: q Q3_K, k Q4_K, v Q2_K, o Q8_0, gate Q5_1, up Q4_0, down Q6_K
  token_embd Q4_K (a gather: always dequantized), output Q4_K

K-quant blocks come from tools/kquant.py's encoder, the others from gguf-py's quantizer.
Regenerate: .venv/bin/python tools/make_kquant_fixture.py
"""
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

from kquant import quantize
from make_gguf_fixtures import llama_writer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "gguf")

LAYER_TYPES = [
    dict(attn_q=Q.Q4_K, attn_k=Q.Q2_K, attn_v=Q.Q3_K, attn_output=Q.Q5_0, ffn_gate=Q.Q6_K,
         ffn_up=Q.Q5_K, ffn_down=Q.Q4_1),
    dict(attn_q=Q.Q3_K, attn_k=Q.Q4_K, attn_v=Q.Q2_K, attn_output=Q.Q8_0, ffn_gate=Q.Q5_1,
         ffn_up=Q.Q4_0, ffn_down=Q.Q6_K),
]


def main():
    hidden, heads, kv_heads, ffn, layers = 256, 4, 2, 256, 2
    hd = hidden // heads
    src = gguf.GGUFReader(os.path.join(OUT, "tiny_llama.gguf"))
    vocab = len(src.fields["tokenizer.ggml.tokens"].data)
    w = llama_writer(os.path.join(OUT, "tiny_kquant.gguf"), hidden, heads, kv_heads, ffn, layers)
    for key, field in src.fields.items():
        if key.startswith("tokenizer."):
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            w.add_key_value(key, field.contents(), vtype, sub)
    rng = np.random.default_rng(14)

    def add(name, arr, qtype=Q.F32):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if qtype == Q.F32:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, quantize(arr, qtype), raw_dtype=qtype)

    # Weights of the size trained models have (a few hundredths), with per-row offsets so that
    # block minimums vary.
    def matrix(rows, cols):
        return 0.04 * rng.standard_normal((rows, cols)) + 0.01 * rng.standard_normal((rows, 1))

    add("token_embd.weight", rng.standard_normal((vocab, hidden)), Q.Q4_K)
    add("output_norm.weight", 1 + 0.1 * rng.standard_normal(hidden))
    add("output.weight", matrix(vocab, hidden), Q.Q4_K)
    shapes = dict(attn_q=(hidden, hidden), attn_k=(kv_heads * hd, hidden),
                  attn_v=(kv_heads * hd, hidden), attn_output=(hidden, hidden),
                  ffn_gate=(ffn, hidden), ffn_up=(ffn, hidden), ffn_down=(hidden, ffn))
    for l in range(layers):
        p = f"blk.{l}."
        add(p + "attn_norm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        add(p + "ffn_norm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        for role, qtype in LAYER_TYPES[l].items():
            add(p + role + ".weight", matrix(*shapes[role]), qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", os.path.join(OUT, "tiny_kquant.gguf"))


if __name__ == "__main__":
    main()
