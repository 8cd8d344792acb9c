"""Apple's coremltools reads every package `anec convert` writes.

The `anec` binary converts parity fixtures (tests/fixtures/parity) into temporary folders:
llama_untied with --lut 4 in one chunk, qwen3_headdim in fp16 with 3 chunks (one layer each),
mistral_window (sliding window: a ring-buffer KV cache) in 2 chunks, also with --kv-cache
per-chunk; the GPTQ (act-order) and AWQ int4 fixtures (tests/fixtures/gptq), whose int4 groups
are carried as constexpr_blockwise_shift_scale; and llama_untied at --lut 4 with a forced tiny
per-file budget (--max-file-mb 0.106384) that splits layers: chunks end after an attention block
or inside an MLP, carrying output_mlp_input -> mlp_input. Then, for every .mlpackage written
(final files and the work folder):
  - coremltools.models.MLModel(path, skip_model_load=True) opens it;
  - the milproto loader rebuilds its MIL program, re-running type inference on every op, and each
    op's inferred output dtype and shape equals the type anec declared in the protobuf;
and the folder follows ANEMLL's contract (docs/PIPELINE.md, /work/shared/reference/ane-llm.md):
file names built from model_prefix and the lut values, meta.yaml's model_info.parameters, the
com.anemll.* user metadata, and multi-function FFN chunks (infer default + prefill) sharing the
state model_model_kv_cache_0 (ANEMLL's model.model.kv_cache_0 as coremltools stores it)
[2L, kv_heads, C, head_dim].
"""
import json
import os
import subprocess

import numpy as np
import pytest
import yaml

import coremltools as ct
from coremltools.converters.mil.mil import types
from coremltools.converters.mil.mil.types.symbolic import is_symbolic
from coremltools.proto import MIL_pb2

from conftest import tool_path
from coremltools.converters.mil.frontend.milproto.load import load as milproto_load
from test_coremltools import load_package, vars_by_name

SOURCE_DIR = os.environ.get(
    "ANEC_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
)
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "parity")
GPTQ_FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "gptq")
CONTEXT = 64
BATCH = 8

CONVERSIONS = {
    "llama_lut4": dict(case="llama_untied", chunks=1, lut=4, prefix="llama"),
    "qwen3_3chunks": dict(case="qwen3_headdim", chunks=3, lut=None, prefix="qwen"),
    # Sliding window (12 < context 64): the KV cache is a ring of 24 rows (window + batch - 1,
    # rounded up to a batch); the host mask carries the window.
    "mistral_2chunks": dict(case="mistral_window", chunks=2, lut=None, prefix="mistral"),
    # --kv-cache per-chunk: chunk k has its own state model_model_kv_cache_{k-1}.
    "mistral_perchunk_kv": dict(case="mistral_window", chunks=2, lut=None, prefix="mistral",
                                kv_cache="per-chunk"),
    # GPTQ / AWQ int4 (tools/make_gptq_fixture.py): the int4 groups are carried as
    # constexpr_blockwise_shift_scale by default; GPTQ is act-order (a gather per linear).
    # With --lut 4 only the (unquantized) LM head is palettized.
    "gptq_actorder": dict(case="gptq_llama", root=GPTQ_FIXTURES, chunks=1, lut=None,
                          prefix="llama", prequant=True),
    "awq_lut4_2chunks": dict(case="awq_llama", root=GPTQ_FIXTURES, chunks=2, lut=4,
                             prefix="llama", prequant=True),
    # LUT4 with 90 KB per file: attention + half an MLP fit, a whole MLP does not. The plan (anec
    # prints it): L0 attention .. L0 mlp[0:80) | L0 mlp[80:160) .. L1 attention | L1 mlp[0:160) |
    # L2 attention .. L2 mlp[0:80) | L2 mlp[80:160). Chunks 1 and 4 hand the MLP input to chunks
    # 2 and 5; sliced gate/up rows and down columns are palettized on their own.
    # --argmax (ANEMLL 0.3.5): the LM head returns argmax_idx int32 [K] / argmax_val fp16 [K].
    "qwen2_argmax": dict(case="qwen2_tied", chunks=1, lut=6, prefix="qwen25", argmax=True),
    # --lut-row-scale: a mul by [1, rows, 1, 1] fp16 scales after every palettized matmul, the
    # q/k/v biases added after it; coremltools must rebuild it like the rest.
    "qwen2_row_scale": dict(case="qwen2_tied", chunks=1, lut=4, prefix="qwen25", row_scale=True),
    # Gemma 3: chunks that run local layers take local_causal_mask; GeLU, sandwich norms, the
    # local rope tables, LM head in 16 pieces.
    "gemma3_2chunks": dict(case="gemma3_iswa", chunks=2, lut=None, prefix="gemma3"),
    "llama_split": dict(case="llama_untied", chunks=5, lut=4, prefix="llama",
                        max_file_mb="0.106384", carry_out={1, 4}, carry_in={2, 5}),
}

def lm_head_pieces(c):
    """ANEMLL's split_lm_head for the prefix's architecture (both fixture vocabularies divide)."""
    return 16 if c["prefix"].startswith(("qwen", "gemma3")) else 8


# MIL protobuf data types -> coremltools' builtin type names.
PROTO_DTYPES = {
    "FLOAT16": "fp16",
    "FLOAT32": "fp32",
    "FLOAT64": "fp64",
    "INT32": "int32",
    "INT64": "int64",
    "INT16": "int16",
    "UINT16": "uint16",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT4": "int4",
    "UINT4": "uint4",
    "UINT2": "uint2",
    "UINT1": "uint1",
    "UINT3": "uint3",
    "UINT6": "uint6",
    "BOOL": "bool",
    "STRING": "string",
}


def lut_suffix(bits):
    return f"_lut{bits}" if bits else ""


_CONVERTED = {}


def convert(name, tmp_path_factory):
    """Runs `anec convert` once per conversion (cached for the session); returns (name, output
    folder, settings, config)."""
    if name in _CONVERTED:
        return _CONVERTED[name]
    c = CONVERSIONS[name]
    out = tmp_path_factory.mktemp(name) / "out"
    anec = tool_path(os.path.join("src", "cli", "anec"))
    model_dir = os.path.join(c.get("root", FIXTURES), c["case"])
    cmd = [anec, "convert", "--model", model_dir, "--output", str(out),
           "--context", str(CONTEXT), "--batch-size", str(BATCH),
           *(["--chunks", "auto", "--max-file-mb", c["max_file_mb"]] if "max_file_mb" in c
             else ["--chunks", str(c["chunks"])]),
           "--lut", str(c["lut"]) if c["lut"] else "none",
           "--kv-cache", c.get("kv_cache", "shared"),
           *(["--argmax"] if c.get("argmax") else []),
           *(["--lut-row-scale"] if c.get("row_scale") else []),
           # The fixtures carry no tokenizer files, which the up-front check requires.
           "--skip-check"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    _CONVERTED[name] = (name, str(out), c, config)
    return _CONVERTED[name]


@pytest.fixture(scope="session", params=sorted(CONVERSIONS))
def converted(request, tmp_path_factory):
    return convert(request.param, tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(n for n, c in CONVERSIONS.items() if c.get("prequant")))
def prequant_converted(request, tmp_path_factory):
    """Only the GPTQ / AWQ conversions."""
    return convert(request.param, tmp_path_factory)


def expected_names(c):
    p, lut, n = c["prefix"], c["lut"], c["chunks"]
    chunks = [f"{p}_FFN_PF{lut_suffix(lut)}_chunk_{k:02d}of{n:02d}.mlpackage" for k in range(1, n + 1)]
    return f"{p}_embeddings.mlpackage", f"{p}_lm_head{lut_suffix(lut)}.mlpackage", chunks


def all_packages(folder):
    found = []
    for root, dirs, _ in os.walk(folder):
        for d in list(dirs):
            if d.endswith(".mlpackage"):
                found.append(os.path.join(root, d))
                dirs.remove(d)
    return sorted(found)


def every_layer_window(config):
    """The window every layer uses (Mistral, Phi-3), or None: Gemma 3's sliding_window is its
    local layers' only, whose cache keeps the context's rows (docs/ANE_LAYERS.md)."""
    return None if config.get("model_type") == "gemma3_text" else config.get("sliding_window")


def cache_rows(config):
    """KV rows: the context, or the sliding window's ring (ane/kv_cache_layout.h)."""
    w = every_layer_window(config)
    if w and w < CONTEXT:
        ring = -(-(w + BATCH - 1) // BATCH) * BATCH
        return min(ring, CONTEXT)
    return CONTEXT


def chunk_layers(layers, chunks):
    """[first, end) of each chunk: the first layers % chunks chunks get one more."""
    out, first = [], 0
    for i in range(chunks):
        n = layers // chunks + (1 if i < layers % chunks else 0)
        out.append((first, first + n))
        first += n
    return out


def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def check_declared_types(spec, prog, where):
    """Every op output anec declared must exist in the rebuilt program with the same type."""
    checked = 0
    for fn_name, fn in spec.mlProgram.functions.items():
        block = fn.block_specializations[fn.opset]
        found = vars_by_name(prog.functions[fn_name])
        for op in block.operations:
            for out in op.outputs:
                assert out.name in found, f"{where}/{fn_name}: {op.type} output {out.name} missing"
                _, var = found[out.name]
                tt = out.type.tensorType
                want_dtype = PROTO_DTYPES[MIL_pb2.DataType.Name(tt.dataType)]
                got_dtype = types.builtin_to_string(var.dtype)
                if want_dtype == "int64" and got_dtype == "int32":
                    want_dtype = "int32"  # coremltools narrows int64 constants
                assert got_dtype == want_dtype, f"{where}/{fn_name}/{out.name}: {got_dtype}"
                assert len(var.shape) == len(tt.dimensions), f"{where}/{fn_name}/{out.name}"
                for axis, (d, got) in enumerate(zip(tt.dimensions, var.shape)):
                    if d.WhichOneof("dimension") == "unknown":
                        # A flexible axis (enumerated input shapes): symbolic after inference.
                        assert is_symbolic(got), f"{where}/{fn_name}/{out.name}[{axis}]"
                    else:
                        assert got == d.constant.size, f"{where}/{fn_name}/{out.name}[{axis}]"
                checked += 1
    return checked


def test_every_package_opens_and_rebuilds_with_declared_types(converted):
    name, out, c, _ = converted
    packages = all_packages(out)
    # The final files, plus whatever single-function chunks the work folder keeps.
    emb, head, chunks = expected_names(c)
    finals = {os.path.join(out, n) for n in [emb, head] + chunks}
    assert finals <= set(packages), packages
    total = 0
    for path in packages:
        model = ct.models.MLModel(path, skip_model_load=True)
        spec = model.get_spec()
        assert spec.WhichOneof("Type") == "mlProgram", path
        folder, base = os.path.split(path)
        _, prog = load_package(folder, base[: -len(".mlpackage")])
        total += check_declared_types(spec, prog, os.path.relpath(path, out))
    assert total > 50 * c["chunks"], f"only {total} op outputs checked"


def test_row_scales_follow_every_palettized_matmul(converted):
    """With --lut-row-scale, coremltools sees each palettized conv's output multiplied by an fp16
    [1, rows, 1, 1] constant; without it, no conv output is multiplied by a constant."""
    name, out, c, _ = converted
    emb, head, chunks = expected_names(c)
    scaled = convs = 0
    for base in [head] + chunks:
        _, prog = load_package(out, base[: -len(".mlpackage")])
        for fn in prog.functions.values():
            for op in fn.operations:
                if op.op_type != "conv" or op.weight.op.op_type != "constexpr_lut_to_dense":
                    continue
                convs += 1
                users = [u for u in op.outputs[0].child_ops if u.op_type == "mul"]
                if len(users) == 1 and users[0].y.op.op_type == "const":
                    scale = users[0].y
                    assert scale.dtype == types.fp16, scale
                    assert list(scale.shape) == [1, op.outputs[0].shape[1], 1, 1], scale.shape
                    scaled += 1
    if c.get("row_scale"):
        assert convs > 0 and scaled == convs, (scaled, convs)
    else:
        assert scaled == 0, scaled


def test_file_names_follow_the_contract(converted):
    _, out, c, _ = converted
    emb, head, chunks = expected_names(c)
    top = sorted(n for n in os.listdir(out) if n.endswith(".mlpackage"))
    assert top == sorted([emb, head] + chunks)
    assert os.path.isfile(os.path.join(out, "config.json"))


def test_meta_yaml_parameters(converted):
    _, out, c, config = converted
    with open(os.path.join(out, "meta.yaml")) as f:
        meta = yaml.safe_load(f)
    info = meta["model_info"]
    for key in ("name", "version", "description", "license", "author", "framework", "language",
                "architecture", "parameters"):
        assert key in info, key
    assert info["name"].endswith(f"-ctx{CONTEXT}")
    # anec's architecture name: the model_type, but "gemma3" for Gemma 3's "gemma3_text".
    assert info["architecture"] == {"gemma3_text": "gemma3"}.get(config["model_type"],
                                                                   config["model_type"])
    p = info["parameters"]
    lut = str(c["lut"]) if c["lut"] else "none"
    emb, head, chunks = expected_names(c)
    want = {
        "context_length": CONTEXT,
        "batch_size": BATCH,
        "lut_embeddings": "none",
        "lut_ffn": int(lut) if c["lut"] else "none",
        "lut_lmhead": int(lut) if c["lut"] else "none",
        "num_chunks": c["chunks"],
        "model_prefix": c["prefix"],
        # ANEMLL writes the compiled names (its Swift CLI loads them as they are).
        "embeddings": emb.replace(".mlpackage", ".mlmodelc"),
        "lm_head": head.replace(".mlpackage", ".mlmodelc"),
        "ffn": f"{c['prefix']}_FFN_PF{lut_suffix(c['lut'])}.mlmodelc",
        # ANEMLL's equal pieces: 8 for Llama/Mistral, 16 for Qwen (vocab 256/384 divide both).
        "split_lm_head": lm_head_pieces(c),
        "vocab_size": config["vocab_size"],
        "lm_head_chunk_sizes": [config["vocab_size"] // lm_head_pieces(c)] * lm_head_pieces(c),
        "prefill_dynamic_slice": True,
    }
    assert {k: p.get(k) for k in want} == want
    # anec's extensions: the window, the ring's rows, the KV sharing.
    w = every_layer_window(config)
    assert p.get("sliding_window") == (w if w and w < CONTEXT else None)
    rows = cache_rows(config)
    assert p.get("state_length") == (rows if rows != CONTEXT else None)
    assert p.get("kv_cache", "shared") == c.get("kv_cache", "shared")


def test_user_defined_metadata(converted):
    _, out, c, config = converted
    emb, head, chunks = expected_names(c)
    for name in [emb, head] + chunks:
        spec = ct.models.MLModel(os.path.join(out, name), skip_model_load=True).get_spec()
        ud = dict(spec.description.metadata.userDefined)
        assert ud["com.anemll.context_length"] == str(CONTEXT), name
        assert ud["com.anemll.state_length"] == str(cache_rows(config)), name
        if config.get("model_type") == "gemma3_text" and name in chunks:  # its local window
            assert ud["com.anec.local_sliding_window"] == str(config["sliding_window"]), name
        assert ud["com.anemll.batch_size"] == str(BATCH), name
        assert ud["com.anemll.num_chunks"] == str(c["chunks"]), name
        assert "com.anemll.info" in ud, name
        bits = 0 if name == emb else (c["lut"] or 0)
        assert ud["com.anemll.lut_bits"] == str(bits), name
    for k, name in enumerate(chunks, start=1):
        spec = ct.models.MLModel(os.path.join(out, name), skip_model_load=True).get_spec()
        assert spec.description.metadata.userDefined["com.anemll.chunk_no"] == str(k)


def features(fs):
    return {f.name: list(f.type.multiArrayType.shape) for f in fs}


def test_embeddings_and_lm_head_io(converted):
    _, out, c, config = converted
    emb, head, _ = expected_names(c)
    H, V = config["hidden_size"], config["vocab_size"]
    spec = ct.models.MLModel(os.path.join(out, emb), skip_model_load=True).get_spec()
    ins = {f.name: f for f in spec.description.input}
    assert list(ins) == ["input_ids"]
    assert ins["input_ids"].type.multiArrayType.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.INT32
    outs = features(spec.description.output)
    assert list(outs) == ["hidden_states"] and outs["hidden_states"][0] == 1
    assert outs["hidden_states"][2] == H
    spec = ct.models.MLModel(os.path.join(out, head), skip_model_load=True).get_spec()
    assert features(spec.description.input) == {"hidden_states": [1, 1, H]}
    outs = features(spec.description.output)
    k = lm_head_pieces(c)
    if c.get("argmax"):
        # ANEMLL 0.3.5's in-model argmax: a winning row and its logit per piece.
        assert outs == {"argmax_idx": [k], "argmax_val": [k]}, outs
        types = {f.name: f.type.multiArrayType.dataType for f in spec.description.output}
        A = ct.proto.FeatureTypes_pb2.ArrayFeatureType
        assert types == {"argmax_idx": A.INT32, "argmax_val": A.FLOAT16}
        meta = spec.description.metadata.userDefined
        assert meta["com.anemll.vocab_size"] == str(V)
        assert meta["com.anemll.lm_head_chunk_sizes"] == ",".join([str(V // k)] * k)
        return
    # K equal pieces (ANEMLL's Swift CLI maps piece i's argmax with offset (i-1) * size).
    assert list(outs) == [f"logits{i}" for i in range(1, k + 1)], outs
    assert all(shape == [1, 1, V // k] for shape in outs.values()), outs


def test_ffn_chunks_are_multifunction_with_shared_kv_state(converted):
    _, out, c, config = converted
    _, _, chunks = expected_names(c)
    H, C, B = config["hidden_size"], cache_rows(config), BATCH
    L, kv, hd = config["num_hidden_layers"], config["num_key_value_heads"], head_dim(config)
    per_chunk = c.get("kv_cache") == "per-chunk"
    ranges = chunk_layers(L, len(chunks))
    fp16 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT16
    want_inputs = {
        "infer": {"hidden_states": [1, 1, H], "position_ids": [1], "causal_mask": [1, 1, 1, C],
                  "current_pos": [1]},
        "prefill": {"hidden_states": [1, B, H], "position_ids": [B], "causal_mask": [1, 1, B, C],
                    "current_pos": [1]},
    }
    for k, name in enumerate(chunks, start=1):
        path = os.path.join(out, name)
        spec = ct.models.MLModel(path, skip_model_load=True).get_spec()
        desc = spec.description
        assert desc.defaultFunctionName == "infer", name
        assert sorted(f.name for f in desc.functions) == ["infer", "prefill"], name
        for f in desc.functions:
            # ANEMLL's converter names it model.model.kv_cache_0; coremltools stores the
            # sanitized identifier, which ANEMLL's tools read (state.read_state(...)).
            # Per chunk: model_model_kv_cache_{k-1} holding only the chunk's own layers.
            state_name = f"model_model_kv_cache_{k - 1 if per_chunk else 0}"
            assert [s.name for s in f.state] == [state_name], (name, f.name)
            state = f.state[0].type.stateType.arrayType
            layers = ranges[k - 1][1] - ranges[k - 1][0] if per_chunk else L
            assert list(state.shape) == [2 * layers, kv, C, hd], (name, f.name)
            assert state.dataType == fp16
            rows_in = want_inputs[f.name]["hidden_states"][1]
            want_in = dict(want_inputs[f.name])
            if k in c.get("carry_in", ()):
                want_in["mlp_input"] = [1, rows_in, H]
            lt = config.get("layer_types") if config.get("model_type") == "gemma3_text" else []
            if any(t == "sliding_attention" for t in lt[ranges[k - 1][0]:ranges[k - 1][1]]):
                want_in["local_causal_mask"] = [1, 1, rows_in, C]  # Gemma 3's local layers
            assert features(f.input) == want_in, (name, f.name)
            outs = features(f.output)
            want_out = ["output_hidden_states"]
            if k in c.get("carry_out", ()):
                want_out.append("output_mlp_input")
                assert outs["output_mlp_input"] == [1, rows_in, H], (name, f.name)
            assert list(outs) == want_out, (name, f.name)
            rows = outs["output_hidden_states"][1]
            assert outs["output_hidden_states"][2] == H
            # Only the last chunk's prefill may shrink its output to one row.
            if f.name == "infer":
                assert rows == 1
            elif k < len(chunks):
                assert rows == B, (name, "prefill output rows")
            else:
                assert rows in (1, B), (name, "prefill output rows")
        folder, base = os.path.split(path)
        _, prog = load_package(folder, base[: -len(".mlpackage")])
        assert sorted(prog.functions) == ["infer", "prefill"]


def test_lut_chunks_hold_palettized_weights(converted):
    """--lut N must really palettize: the FFN chunk's program has constexpr_lut_to_dense ops whose
    tables have 2^N entries, and no fp16 matrix constant as large as a projection."""
    _, out, c, config = converted
    _, _, chunks = expected_names(c)
    path = os.path.join(out, chunks[0])
    folder, base = os.path.split(path)
    _, prog = load_package(folder, base[: -len(".mlpackage")])
    lut_ops = [op for op in prog.functions["infer"].operations
               if op.op_type == "constexpr_lut_to_dense"]
    if c.get("prequant"):
        # Every FFN matrix is a carried int4 weight; the LUT goes to the LM head only.
        assert lut_ops == []
        _, head, _ = expected_names(c)
        _, head_prog = load_package(out, head[: -len(".mlpackage")])
        head_luts = [op for op in head_prog.functions["main"].operations
                     if op.op_type == "constexpr_lut_to_dense"]
        assert bool(head_luts) == bool(c["lut"])
        return
    if not c["lut"]:
        assert lut_ops == []
        return
    assert lut_ops, "no constexpr_lut_to_dense op in a --lut chunk"
    for op in lut_ops:
        lut = np.asarray(op.lut.val)
        assert lut.shape[-2] == 2 ** c["lut"], (op.name, lut.shape)


def test_type_check_has_teeth(converted):
    """A declared output shape that disagrees with coremltools' inference (one FFN op's last dim
    off by one) must be caught, by the loader itself or by check_declared_types."""
    _, out, c, _ = converted
    _, _, chunks = expected_names(c)
    path = os.path.join(out, chunks[0])
    spec = ct.models.MLModel(path, skip_model_load=True).get_spec()
    fn = spec.mlProgram.functions["infer"]
    block = fn.block_specializations[fn.opset]
    target = next(op for op in block.operations if op.type == "mul")
    dims = target.outputs[0].type.tensorType.dimensions
    dims[len(dims) - 1].constant.size += 1
    weights_dir = os.path.join(path, "Data", "com.apple.CoreML", "weights")
    with pytest.raises(AssertionError):
        prog = milproto_load(spec, spec.specificationVersion, weights_dir)
        check_declared_types(spec, prog, "mutated")


def test_prequant_chunks_carry_the_int4_groups(prequant_converted):
    """GPTQ/AWQ: each decoder linear is constexpr_blockwise_shift_scale(uint4 data, fp16 scale,
    uint4 or fp16 offset), and the weight coremltools decompresses from it (then, for act-order,
    gathers by the stored order) is, bit for bit, fp16 of the weight numpy dequantized in
    tools/make_gptq_fixture.py."""
    name, out, c, config = prequant_converted
    from safetensors.numpy import load_file

    expected = load_file(os.path.join(c["root"], c["case"], "expected_weights.safetensors"))
    _, _, chunks = expected_names(c)
    folder, base = os.path.split(os.path.join(out, chunks[0]))
    _, prog = load_package(folder, base[: -len(".mlpackage")])
    for fn_name in ("infer", "prefill"):
        fn = prog.functions[fn_name]
        ops = vars_by_name(fn)
        shift_scale = [op for op in fn.operations
                       if op.op_type == "constexpr_blockwise_shift_scale"]
        # Seven linears per layer of the chunk (chunk 1 holds layer 0 and maybe more); the last
        # chunk's prefill only fills the cache and skips the last layer's MLP (3 linears).
        last = c["chunks"] == 1
        skipped = 3 if fn_name == "prefill" and last else 0
        assert shift_scale and (len(shift_scale) + skipped) % 7 == 0, (fn_name, len(shift_scale))
        for op in shift_scale:
            assert types.builtin_to_string(op.data.dtype) == "uint4", op.name
            assert types.builtin_to_string(op.scale.dtype) == "fp16", op.name
            assert types.builtin_to_string(op.offset.dtype) in ("uint4", "fp16"), op.name
        checked = 0
        for weight, want in expected.items():
            if weight.startswith("original."):
                continue
            tag = weight.split(".")[-2]  # q_proj, ..., up_proj, down_proj
            const = f"layers_0_{tag}"
            if const in ops and ops[const][0].op_type == "gather":
                gather = ops[const][0]
                grouped = gather.x.op
                assert grouped.op_type == "constexpr_blockwise_shift_scale"
                dense = grouped.materialized_val_inference()
                assert int(gather.axis.val) == 1
                dense = np.take(dense, gather.indices.val, axis=1)
            else:
                dense = ops[const][0].materialized_val_inference()
            assert dense.dtype == np.float16, const
            got = dense.reshape(want.shape)
            assert np.array_equal(got.view(np.uint16), want.astype(np.float16).view(np.uint16)), (
                fn_name, const, float(np.abs(got.astype(np.float32) - want).max()))
            checked += 1
        assert checked == 6, checked
