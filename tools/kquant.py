#!/usr/bin/env python3
"""A small numpy encoder for ggml's K-quant blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), following the
block layouts of docs/GGUF_FORMAT.md (the inverse of src/io/gguf_dequant.cc), and the exactness
measurements of docs/GGUF_FORMAT.md "Carrying blocks into Core ML".

The encoder is not ggml's (no iterative scale search): per sub-block it takes the range (or the
largest magnitude), quantizes the sub-block scales and minimums to 6 or 4 bits against an fp16
super-block scale, then the weights against the resulting scales. The stored fields have the
same kinds of values as llama.cpp's (full fp16 d/dmin, 4/6/8-bit sub-block scales), which is
what the exactness of a Core ML form depends on. Every encoding is checked against gguf-py's own
dequantizer.

  python tools/kquant.py measure FILE.gguf      per type: how often each exact form would hold
  python tools/kquant.py requant IN.gguf OUT.gguf [--mix q4_k_m|q2_k|q3_k|q4_k|q5_k|q6_k]
      re-encodes every quantized layer matrix of IN (dequantized by gguf-py): q4_k_m puts attn_v
      and ffn_down in Q6_K and the others in Q4_K (llama.cpp's Q4_K_M recipe, roughly); a row
      length that is not a multiple of 256 takes llama.cpp's replacement type (Q4_K -> Q5_0,
      Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0). Embeddings and norms stay as in IN.
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q


def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b != 0, a / np.where(b != 0, b, 1), 0)
    return r


def _scale_min(xs, levels, scale_levels):
    """Per sub-block scale and (positive) minimum for codes 0..levels, then an fp16 super-block d
    and dmin with sub-block factors 0..scale_levels. Returns d, dmin (fp16), sc, mn (int), q."""
    mn = np.minimum(xs.min(axis=-1), 0)
    scale = (xs.max(axis=-1) - mn) / levels
    d = f16(scale.max(axis=-1) / scale_levels)
    dmin = f16((-mn).max(axis=-1) / scale_levels)
    sc = np.clip(np.rint(_safe_div(scale, d.astype(np.float32)[:, None])), 0, scale_levels)
    mq = np.clip(np.rint(_safe_div(-mn, dmin.astype(np.float32)[:, None])), 0, scale_levels)
    dl = d.astype(np.float32)[:, None] * sc
    ml = dmin.astype(np.float32)[:, None] * mq
    q = np.clip(np.rint(_safe_div(xs + ml[..., None], dl[..., None])), 0, levels)
    return d, dmin, sc.astype(np.uint8), mq.astype(np.uint8), q.astype(np.uint8)


def _signed_scale(xs, qmax, scale_max):
    """Symmetric: per sub-block s = (value of largest magnitude) / -qmax-ish, then an fp16 d with
    integer sub-block scales in [-scale_max, scale_max - 1]. Returns d, sc (int), q (signed)."""
    idx = np.abs(xs).argmax(axis=-1)
    big = np.take_along_axis(xs, idx[..., None], axis=-1)[..., 0]
    s = big / -qmax
    sidx = np.abs(s).argmax(axis=-1)
    smax = np.take_along_axis(s, sidx[..., None], axis=-1)[..., 0]
    d = f16(smax / -scale_max)
    sc = np.clip(np.rint(_safe_div(s, d.astype(np.float32)[:, None])), -scale_max, scale_max - 1)
    dl = d.astype(np.float32)[:, None] * sc
    q = np.clip(np.rint(_safe_div(xs, dl[..., None])), -qmax, qmax - 1)
    return d, sc.astype(np.int8), q.astype(np.int16)


def _pack_scale_min_k4(sc, mn):
    """8 six-bit scales and mins -> 12 bytes (inverse of ScaleMinK4 in gguf_dequant.cc)."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    for j in range(4):
        out[:, j] = (sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)
        out[:, 4 + j] = (mn[:, j] & 63) | ((mn[:, j + 4] >> 4) << 6)
        out[:, 8 + j] = (sc[:, j + 4] & 15) | ((mn[:, j + 4] & 15) << 4)
    return out


def _nibbles_k(q):
    """[nb, 256] codes 0..15 -> 128 bytes: sub-block j = 2a + h is nibble h of byte a*32 + i."""
    q = q.reshape(-1, 4, 2, 32)
    return (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(-1, 128).astype(np.uint8)


def encode_q4_k(x):
    d, dmin, sc, mn, q = _scale_min(x.reshape(-1, 8, 32), 15, 63)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                           _pack_scale_min_k4(sc, mn), _nibbles_k(q.reshape(-1, 256))], axis=1)


def encode_q5_k(x):
    d, dmin, sc, mn, q = _scale_min(x.reshape(-1, 8, 32), 31, 63)
    q = q.reshape(-1, 256)
    qh = np.zeros((q.shape[0], 32), dtype=np.uint8)
    for j in range(8):
        qh |= ((q[:, j * 32:(j + 1) * 32] >> 4) & 1).astype(np.uint8) << j
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                           _pack_scale_min_k4(sc, mn), qh, _nibbles_k(q & 15)], axis=1)


def encode_q6_k(x):
    d, sc, q = _signed_scale(x.reshape(-1, 16, 16), 32, 128)
    u = (q.reshape(-1, 256) + 32).astype(np.uint8)  # 0..63
    ql = np.zeros((u.shape[0], 128), dtype=np.uint8)
    qh = np.zeros((u.shape[0], 64), dtype=np.uint8)
    for o in range(256):
        a, r = divmod(o, 128)
        ql[:, a * 64 + r % 64] |= (u[:, o] & 15) << (4 * (r // 64))
        qh[:, a * 32 + r % 32] |= (u[:, o] >> 4) << (2 * (r // 32))
    return np.concatenate([ql, qh, sc.view(np.uint8), d.view(np.uint8).reshape(-1, 2)], axis=1)


def encode_q2_k(x):
    d, dmin, sc, mn, q = _scale_min(x.reshape(-1, 16, 16), 3, 15)
    q = q.reshape(-1, 256)
    qs = np.zeros((q.shape[0], 64), dtype=np.uint8)
    for o in range(256):
        a, s, i = o // 128, (o % 128) // 32, o % 32
        qs[:, a * 32 + i] |= q[:, o] << (2 * s)
    return np.concatenate([(sc | (mn << 4)).astype(np.uint8), qs, d.view(np.uint8).reshape(-1, 2),
                           dmin.view(np.uint8).reshape(-1, 2)], axis=1)


def encode_q3_k(x):
    d, sc, q = _signed_scale(x.reshape(-1, 16, 16), 4, 32)
    code = (q.reshape(-1, 256) + 4).astype(np.uint8)  # 0..7: low two bits | high bit << 2
    hmask = np.zeros((code.shape[0], 32), dtype=np.uint8)
    qs = np.zeros((code.shape[0], 64), dtype=np.uint8)
    for o in range(256):
        a, s, i = o // 128, (o % 128) // 32, o % 32
        qs[:, a * 32 + i] |= (code[:, o] & 3) << (2 * s)
        hmask[:, i] |= (code[:, o] >> 2) << (o // 32)
    u = (sc.astype(np.int16) + 32).astype(np.uint8)
    packed = np.zeros((u.shape[0], 12), dtype=np.uint8)
    for k in range(16):
        packed[:, k % 8] |= (u[:, k] & 15) << (4 * (k // 8))
        packed[:, 8 + k % 4] |= (u[:, k] >> 4) << (2 * (k // 4))
    return np.concatenate([hmask, qs, packed, d.view(np.uint8).reshape(-1, 2)], axis=1)


ENCODERS = {Q.Q2_K: encode_q2_k, Q.Q3_K: encode_q3_k, Q.Q4_K: encode_q4_k, Q.Q5_K: encode_q5_k,
            Q.Q6_K: encode_q6_k}


def quantize(x, qtype):
    """[rows, cols] float32 -> raw blocks [rows, cols / B * bytes] of `qtype`, checked against
    gguf-py's dequantizer (a packing mistake shows as a large error)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if qtype not in ENCODERS:
        return gguf.quants.quantize(x, qtype)
    block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = ENCODERS[qtype](x.reshape(-1, block)).reshape(x.shape[0], -1)
    assert raw.shape[1] == x.shape[1] // block * nbytes
    back = gguf.quants.dequantize(raw, qtype).reshape(x.shape)
    err = np.abs(back - x).max(axis=1)
    rng = (x.max(axis=1) - x.min(axis=1))
    levels = {Q.Q2_K: 3, Q.Q3_K: 7, Q.Q4_K: 15, Q.Q5_K: 31, Q.Q6_K: 63}[qtype]
    assert np.all(err <= rng / levels * 2 + 1e-6), f"{qtype.name}: max error {err.max()}"
    return raw


# ---- exactness measurements -------------------------------------------------------------------

def rn16(x64):
    """Round float64 to fp16 once (numpy's float64 -> float16 cast rounds to nearest even)."""
    return np.asarray(x64, dtype=np.float64).astype(np.float16)


def same(*arrays):
    bits = [a.view(np.uint16) for a in arrays]
    return np.all([b == bits[0] for b in bits[1:]], axis=0)


def shift_scale_exact(target, S, data, O=None):
    """Per element: does S*(data - O) give `target` (fp16) under fp16 arithmetic (two roundings,
    coremltools' numpy decompression), under fp32 arithmetic rounded to fp16 (the anec runtime),
    and as the exact real value rounded once?"""
    S16 = S.astype(np.float16)
    d16 = data.astype(np.float16)
    if O is None:
        a16 = (S16 * d16).astype(np.float16)
        a32 = (S16.astype(np.float32) * data.astype(np.float32)).astype(np.float16)
        a64 = rn16(S16.astype(np.float64) * data.astype(np.float64))
    else:
        O16 = O.astype(np.float16)
        a16 = (S16 * (d16 - O16)).astype(np.float16)
        a32 = (S16.astype(np.float32) * (data.astype(np.float32) - O16.astype(np.float32))).astype(np.float16)
        a64 = rn16(S16.astype(np.float64) * (data.astype(np.float64) - O16.astype(np.float64)))
    return same(target, a16) & same(target, a32) & same(target, a64)


def fp16_exact(x32):
    """Is the float32 value an fp16 number?"""
    return x32.astype(np.float16).astype(np.float32) == x32


def _scale_min_fields(raw, qtype):
    """d, dmin, sc[8], mn[8], codes[256] of Q4_K / Q5_K blocks, as gguf_dequant.cc reads them."""
    d = raw[:, 0:2].copy().view(np.float16).astype(np.float32).ravel()
    dmin = raw[:, 2:4].copy().view(np.float16).astype(np.float32).ravel()
    s = raw[:, 4:16].astype(np.int32)
    sc = np.zeros((raw.shape[0], 8), np.int32)
    mn = np.zeros((raw.shape[0], 8), np.int32)
    for j in range(4):
        sc[:, j] = s[:, j] & 63
        mn[:, j] = s[:, 4 + j] & 63
        sc[:, 4 + j] = (s[:, 8 + j] & 15) | ((s[:, j] >> 2) & 48)
        mn[:, 4 + j] = (s[:, 8 + j] >> 4) | ((s[:, 4 + j] >> 2) & 48)
    qs = raw[:, 16:144] if qtype == Q.Q4_K else raw[:, 48:176]
    q = np.zeros((raw.shape[0], 256), np.int32)
    for j in range(8):
        a, h = divmod(j, 2)
        q[:, j * 32:(j + 1) * 32] = (qs[:, a * 32:(a + 1) * 32] >> (4 * h)) & 15
        if qtype == Q.Q5_K:
            q[:, j * 32:(j + 1) * 32] |= ((raw[:, 16:48] >> j) & 1) << 4
    return d, dmin, sc, mn, q


def measure_tensor(raw, qtype):
    """(sub-blocks, sub-blocks exact as shift-scale, scale exact in fp16) for one tensor."""
    raw = np.asarray(raw, dtype=np.uint8)
    block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = raw.reshape(-1, nbytes)
    if qtype in (Q.Q4_1, Q.Q5_1):
        d = raw[:, 0:2].copy().view(np.float16).astype(np.float32)
        m = raw[:, 2:4].copy().view(np.float16).astype(np.float32)
        nib = raw[:, 4:20] if qtype == Q.Q4_1 else raw[:, 8:24]
        q = np.concatenate([nib & 15, nib >> 4], axis=1).astype(np.int32)
        if qtype == Q.Q5_1:
            qh = raw[:, 4:8].copy().view(np.uint32)
            q |= (((qh >> np.arange(32, dtype=np.uint32)) & 1) << 4).astype(np.int32)
        target = (d * q.astype(np.float32) + m).astype(np.float16)  # gguf_dequant.cc's order
        with np.errstate(all="ignore"):
            O = rn16(-m.astype(np.float64) / d.astype(np.float64))
        ok = shift_scale_exact(target, d, q, O).reshape(-1, 32).all(axis=1)
        scale_ok = np.ones_like(ok)
    elif qtype in (Q.Q4_K, Q.Q5_K):
        d, dmin, sc, mn, q = _scale_min_fields(raw, qtype)
        dl = (d[:, None] * sc.astype(np.float32))  # exact in fp32
        ml = (dmin[:, None] * mn.astype(np.float32))
        target = (np.repeat(dl, 32, axis=1) * q.astype(np.float32) -
                  np.repeat(ml, 32, axis=1)).astype(np.float16)
        S = dl.astype(np.float16)
        with np.errstate(all="ignore"):
            O = rn16(ml.astype(np.float64) / S.astype(np.float64))
        ok = shift_scale_exact(target, np.repeat(S, 32, axis=1), q,
                               np.repeat(O, 32, axis=1)).reshape(-1, 32).all(axis=1)
        scale_ok = fp16_exact(dl).ravel()
    elif qtype == Q.Q6_K:
        vals = gguf.quants.dequantize(raw, Q.Q6_K)  # for the codes: value / (d*s)
        d = raw[:, 208:210].copy().view(np.float16).astype(np.float32).ravel()
        s = raw[:, 192:208].copy().view(np.int8).astype(np.float32)
        ds = d[:, None] * s  # exact in fp32 (11 + 8 bits)
        dsr = np.repeat(ds, 16, axis=1)
        with np.errstate(all="ignore"):
            q = np.where(dsr != 0, np.rint(vals.reshape(-1, 256) / np.where(dsr != 0, dsr, 1)), 0)
        target = (dsr * q.astype(np.float32)).astype(np.float16)
        ok = shift_scale_exact(target, dsr.astype(np.float16), q).reshape(-1, 16).all(axis=1)
        scale_ok = fp16_exact(ds).ravel()
    elif qtype == Q.Q3_K:
        d = raw[:, 108:110].copy().view(np.float16).astype(np.float32).ravel()
        u = raw[:, 96:108].astype(np.int32)
        s = np.zeros((raw.shape[0], 16), np.float32)
        for k in range(16):
            lo = (u[:, k % 8] >> (4 * (k // 8))) & 15
            hi = (u[:, 8 + k % 4] >> (2 * (k // 4))) & 3
            s[:, k] = (lo | (hi << 4)) - 32
        ds = d[:, None] * s
        scale_ok = fp16_exact(ds).ravel()
        ok = scale_ok  # data q in [-4, 3] times an exact fp16 scale is exact; else not in general
    else:
        return None
    return ok.size, int(ok.sum()), int(scale_ok.sum())


def cmd_measure(path):
    r = gguf.GGUFReader(path)
    stats = {}
    for t in r.tensors:
        if len(t.shape) != 2:
            continue
        res = measure_tensor(t.data, t.tensor_type)
        if res is None:
            continue
        n, ok, sok = res
        s = stats.setdefault(t.tensor_type.name, [0, 0, 0, 0, 0])
        s[0] += 1
        s[1] += n == ok
        s[2] += n
        s[3] += ok
        s[4] += sok
    print("type   tensors  all-exact  sub-blocks  exact-as-shift-scale  scale-in-fp16")
    for name, (nt, te, nb, ok, sok) in sorted(stats.items()):
        print(f"{name:6} {nt:7d}  {te:9d}  {nb:10d}  {ok / nb:20.4%}  {sok / nb:13.4%}")


def copy_metadata(reader, writer):
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub)


# llama.cpp's replacement when a row length is not a multiple of 256 (a K-quant cannot hold it).
FALLBACK = {Q.Q2_K: Q.Q4_0, Q.Q3_K: Q.Q4_0, Q.Q4_K: Q.Q5_0, Q.Q5_K: Q.Q5_1, Q.Q6_K: Q.Q8_0}


def pick_type(name, cols, mix):
    """Q4_K_M-like: attn_v and ffn_down Q6_K, others Q4_K; any other mix: that type for all."""
    if mix == "q4_k_m":
        qtype = Q.Q6_K if ("attn_v" in name or "ffn_down" in name) else Q.Q4_K
    else:
        qtype = Q[mix.upper()]
    return qtype if cols % 256 == 0 or qtype not in FALLBACK else FALLBACK[qtype]


def cmd_requant(src, dst, mix="q4_k_m"):
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(dst, arch)
    copy_metadata(r, w)
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape)]  # PyTorch order [rows, cols]
        quantized = t.tensor_type not in (Q.F32, Q.F16, Q.BF16)
        if len(shape) == 2 and quantized and t.name.startswith("blk."):
            x = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape)
            qtype = pick_type(t.name, shape[1], mix)
            w.add_tensor(t.name, quantize(x, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "measure":
        cmd_measure(sys.argv[2])
    elif len(sys.argv) in (4, 6) and sys.argv[1] == "requant":
        cmd_requant(sys.argv[2], sys.argv[3], sys.argv[5] if len(sys.argv) == 6 else "q4_k_m")
    else:
        print(__doc__)
        sys.exit(2)
