#!/usr/bin/env python3
"""Prints the largest |activation| per decoder layer of a checkpoint run by transformers (fp32),
against fp16's largest finite value (65504): the residual stream after each layer, the attention
and MLP branch outputs (after Gemma's output norms), the MLP's gated intermediate act(gate)*up, and
the sum of squares an RMSNorm of the stream computes (mean(x^2) * hidden, the first value to
overflow when the stream exceeds 256 in fp16).

Usage: .venv/bin/python tools/activation_range.py MODEL_DIR [--prompt-ids 1,5,9,...]
The prompts are those of the folder's reference.json when it has one (parity fixtures).
"""
import argparse
import json
import os

import torch
import transformers

FP16_MAX = 65504.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--prompt-ids", default="")
    args = ap.parse_args()
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    model.eval()
    prompts = []
    ref = os.path.join(args.model_dir, "reference.json")
    if args.prompt_ids:
        prompts = [[int(x) for x in args.prompt_ids.split(",")]]
    elif os.path.exists(ref):
        prompts = [p["ids"] + p["greedy"] for p in json.load(open(ref))["prompts"]]
    layers = model.model.layers
    peak = {}

    def track(key, t):
        peak[key] = max(peak.get(key, 0.0), float(t.detach().abs().max()))

    hooks = []
    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_hook(
            lambda m, a, out, i=i: track((i, "stream"), out[0] if isinstance(out, tuple) else out)))
        hooks.append(layer.self_attn.register_forward_hook(
            lambda m, a, out, i=i: track((i, "attn_out"), out[0])))
        def down_hook(m, a, out, i=i):  # returns None: a hook's value would replace the output
            track((i, "mlp_inner"), a[0])
            track((i, "mlp_out"), out)
        hooks.append(layer.mlp.down_proj.register_forward_hook(down_hook))
        for name in ("post_attention_layernorm", "post_feedforward_layernorm"):
            norm = getattr(layer, name, None)
            if norm is not None and hasattr(layer, "pre_feedforward_layernorm"):
                hooks.append(norm.register_forward_hook(
                    lambda m, a, out, i=i, n=name: track((i, "branch_" + n.split("_")[1]), out)))
        hooks.append(layer.input_layernorm.register_forward_hook(
            lambda m, a, out, i=i: track((i, "sum_sq"), (a[0].float() ** 2).sum(-1))))
    with torch.no_grad():
        for ids in prompts:
            model(torch.tensor([ids]))
    for h in hooks:
        h.remove()
    kinds = ["stream", "attn_out", "mlp_inner", "mlp_out", "sum_sq"]
    print("layer | " + " | ".join(kinds))
    worst = 0.0
    for i in range(len(layers)):
        row = [peak.get((i, k), 0.0) for k in kinds]
        worst = max(worst, max(row[:4]))
        print(f"{i} | " + " | ".join(f"{v:.4g}" for v in row))
    print(f"largest |activation| {worst:.4g} = {worst / FP16_MAX:.3g} x fp16 max (65504)")


if __name__ == "__main__":
    main()
