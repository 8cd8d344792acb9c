#!/usr/bin/env python3
"""Compares anec's palettization with coremltools' k-means palettization, tensor by tensor.

First dump our results (fp16 weights, our LUTs and indices, our SSE and time):
    build/bench/quant_bench --layers 2 --threads 1 --dump /tmp/anec_quant_cmp --dump-layers 2
then run, in the repo's venv:
    .venv/bin/python bench/quant_vs_coremltools.py --dir /tmp/anec_quant_cmp
Real tensors (one of each kind, dequantized from a GGUF; tensor names attn_q, attn_k, attn_v,
attn_output, ffn_gate, ffn_up, ffn_down, lm_head, synthetic_q4_1):
    build/bench/quant_bench --gguf MODEL.gguf --dump /tmp/anec_real_cmp
    .venv/bin/python bench/quant_vs_coremltools.py --dir /tmp/anec_real_cmp --tensors ffn_down
coremltools clusters groups of fewer than 10,000 elements with scikit-learn's KMeans (which must
then be installed); only larger groups go to its exact solver.

For each dumped tensor and nbits in {4, 6} this runs the function coremltools'
palettize_weights(mode="kmeans", granularity="per_grouped_channel", group_size=8) uses per weight,
palettize_weights.grouped_channelwise_compress (single process, num_kmeans_workers=1), times it
with process CPU time (ours: the bench's CPU time, 1 thread), dequantizes both results in float64, and prints the SSE of each against
the fp16 weight. Our SSE is recomputed here from our dumped tables and indices, not taken from
our CSV (which is only checked against it). Exits non-zero if any tensor of ours has a larger
SSE than coremltools' (beyond 1e-9 relative) or if our CSV disagrees with the recomputation.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np


def dequantize(lut, indices, group_rows):
    groups, entries = lut.shape
    rows = indices.shape[0]
    group_of_row = np.arange(rows) // group_rows
    return lut.astype(np.float64)[group_of_row[:, None], indices.astype(np.int64)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default="/tmp/anec_quant_cmp")
    parser.add_argument("--tensors", default="k_proj,v_proj,o_proj,down_proj",
                        help="comma-separated tensor names to compare (default: a subset that "
                             "keeps the coremltools run to a few minutes)")
    parser.add_argument("--bits", default="4,6")
    args = parser.parse_args()

    from coremltools.optimize.coreml._quantization_passes import palettize_weights

    wanted = set(args.tensors.split(","))
    bits_wanted = {int(b) for b in args.bits.split(",")}
    with open(os.path.join(args.dir, "ours.csv")) as f:
        rows = [r for r in csv.DictReader(f)
                if r["tensor"] in wanted and int(r["bits"]) in bits_wanted]
    if not rows:
        print(f"no matching rows in {args.dir}/ours.csv; run quant_bench --dump first")
        return 2

    print(f"| {'tensor':<20} | bits | {'SSE anec':>12} | {'SSE coremltools':>15} | "
          f"{'anec/ct - 1':>12} | {'anec cpu s':>10} | {'ct cpu s':>8} | {'speedup':>7} |")
    print(f"|{'-' * 22}|------|{'-' * 14}|{'-' * 17}|{'-' * 14}|{'-' * 12}|{'-' * 10}|{'-' * 9}|")
    failures = 0
    total_ours = total_ct = 0.0
    for r in rows:
        layer, name, bits = int(r["layer"]), r["tensor"], int(r["bits"])
        stem = os.path.join(args.dir, f"l{layer}_{name}")
        w = np.load(stem + ".npy")
        assert w.dtype == np.float16
        w64 = w.astype(np.float64)
        lut = np.load(f"{stem}_lut{bits}_g8_lut.npy")
        idx = np.load(f"{stem}_lut{bits}_g8_idx.npy")
        ours = float(((dequantize(lut, idx, 8) - w64) ** 2).sum())
        if abs(ours - float(r["sse"])) > 1e-9 * ours:
            print(f"l{layer}.{name} LUT{bits}: our CSV SSE {r['sse']} != recomputed {ours}")
            failures += 1

        start = time.process_time()
        params = palettize_weights.grouped_channelwise_compress(
            w, "KMEANS", bits, 0, 8, num_kmeans_workers=1)
        ct_seconds = time.process_time() - start
        ct_lut = np.asarray(params.lut).reshape(w.shape[0] // 8, 1 << bits)
        ct = float(((dequantize(ct_lut, np.asarray(params.indices).astype(np.uint8), 8) - w64)
                    ** 2).sum())

        ours_seconds = float(r["cpu_seconds"])
        total_ours += ours_seconds
        total_ct += ct_seconds
        worse = ours > ct * (1 + 1e-9)
        failures += worse
        print(f"| {f'l{layer}.{name}':<20} | {bits:>4} | {ours:>12.6e} | {ct:>15.6e} | "
              f"{ours / ct - 1:>12.3e} | {ours_seconds:>10.3f} | {ct_seconds:>8.3f} | "
              f"{ct_seconds / ours_seconds:>6.1f}x |{' WORSE' if worse else ''}")
    print(f"total CPU: anec {total_ours:.2f} s (1 thread), coremltools {total_ct:.2f} s "
          f"(1 process): {total_ct / total_ours:.1f}x; "
          f"{'anec error <= coremltools on every tensor' if failures == 0 else f'{failures} failures'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
