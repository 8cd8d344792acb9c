"""Cross-check of anec's MIL builder against Apple's coremltools.

For every package written by anec_write_test_packages: coremltools opens it, rebuilds the MIL
program from the protobuf and the weight file (re-running type inference on every op), and each
op output's dtype/shape, each constant's values and each constexpr op's dense values must equal
what anec declared in manifest.json.
"""
import os

import numpy as np
import pytest

import coremltools as ct
from coremltools.converters.mil.frontend.milproto.load import load as milproto_load
from coremltools.converters.mil.mil import types

PACKAGES = [
    "elementwise",
    "reductions",
    "shape_ops",
    "gather",
    "linear",
    "constants",
    "lut",
    "blockwise",
    "stateful_multifunction",
    "ios16_opset",
    "ios17_opset",
]

# coremltools replaces a write_state + read_state pair by one coreml_update_state op.
OP_TYPE_ALIASES = {"read_state": {"read_state", "coreml_update_state"}}


def load_package(folder, name):
    path = os.path.join(folder, name + ".mlpackage")
    model = ct.models.MLModel(path, skip_model_load=True)
    spec = model.get_spec()
    weights_dir = os.path.join(path, "Data", "com.apple.CoreML", "weights")
    prog = milproto_load(spec, spec.specificationVersion, weights_dir)
    return spec, prog


def vars_by_name(function):
    found = {}
    for op in function.operations:
        for var in op.outputs:
            found[var.name] = (op, var)
    return found


def const_ops_in_spec(spec, function_name):
    function = spec.mlProgram.functions[function_name]
    block = function.block_specializations[function.opset]
    return {
        op.attributes["name"].immediateValue.tensor.strings.values[0].decode()
        if isinstance(op.attributes["name"].immediateValue.tensor.strings.values[0], bytes)
        else op.attributes["name"].immediateValue.tensor.strings.values[0]: op
        for op in block.operations
        if op.type == "const"
    }


def test_manifest_lists_every_package(mil_packages):
    _, manifest = mil_packages
    assert sorted(manifest) == sorted(PACKAGES)


def test_enough_op_types_are_covered(mil_packages):
    _, manifest = mil_packages
    op_types = set()
    for entry in manifest.values():
        for fn in entry["functions"].values():
            op_types.update(v["op_type"] for v in fn["values"].values())
    assert len(op_types) >= 25, sorted(op_types)


@pytest.mark.parametrize("name", PACKAGES)
def test_coremltools_rebuilds_program(mil_packages, name):
    folder, manifest = mil_packages
    entry = manifest[name]
    spec, prog = load_package(folder, name)
    assert spec.specificationVersion == entry["specification_version"]
    assert spec.WhichOneof("Type") == "mlProgram"
    assert sorted(prog.functions) == sorted(entry["functions"])

    for fn_name, expected in entry["functions"].items():
        found = vars_by_name(prog.functions[fn_name])
        for var_name, want in expected["values"].items():
            assert var_name in found, f"{name}/{fn_name}: op output {var_name} missing"
            op, var = found[var_name]
            allowed = OP_TYPE_ALIASES.get(want["op_type"], {want["op_type"]})
            assert op.op_type in allowed, f"{var_name}: {op.op_type} vs {want['op_type']}"
            assert types.builtin_to_string(var.dtype) == want["dtype"], var_name
            assert list(var.shape) == want["shape"], var_name
            if "dense" in want:
                dense = np.asarray(op.materialized_val_inference(), dtype=np.float64)
                assert list(dense.shape) == want["shape"], var_name
                np.testing.assert_allclose(
                    dense.flatten(), np.asarray(want["dense"]), rtol=2e-3, atol=1e-6,
                    err_msg=f"{name}/{var_name}: dense values",
                )

        spec_consts = const_ops_in_spec(spec, fn_name)
        for const_name, want in expected["consts"].items():
            assert const_name in found, f"{name}/{fn_name}: const {const_name} missing"
            op, var = found[const_name]
            assert op.op_type == "const"
            dtype = types.builtin_to_string(var.dtype)
            # coremltools downcasts int64 constants to int32 when it builds the const op.
            want_dtype = "int32" if want["dtype"] == "int64" else want["dtype"]
            assert dtype == want_dtype, f"{const_name}: {dtype} vs {want['dtype']}"
            is_blob = spec_consts[const_name].attributes["val"].WhichOneof("value") == "blobFileValue"
            assert is_blob == want["blob"], const_name
            val = var.val
            if want["dtype"] == "string":
                got = [val] if isinstance(val, str) else [str(s) for s in np.asarray(val).flatten()]
                assert got == want["values"], const_name
                continue
            got = np.asarray(val)
            assert list(got.shape) == want["shape"], const_name
            if want["dtype"] == "bool":
                assert got.dtype == np.bool_
                np.testing.assert_array_equal(got.flatten(), np.asarray(want["values"], dtype=bool))
            else:
                np.testing.assert_array_equal(
                    got.astype(np.float64).flatten(), np.asarray(want["values"], dtype=np.float64),
                    err_msg=f"{name}/{const_name}",
                )


def feature_shapes(features):
    return {f.name: list(f.type.multiArrayType.shape) for f in features}


@pytest.mark.parametrize("name", [p for p in PACKAGES if p != "stateful_multifunction"])
def test_single_function_description_matches_program(mil_packages, name):
    folder, _ = mil_packages
    spec, prog = load_package(folder, name)
    desc = spec.description
    assert len(desc.functions) == 0
    assert desc.metadata.userDefined["package"] == name
    fn = prog.functions["main"]
    inputs = {n: list(v.shape) for n, v in fn.inputs.items()}
    assert feature_shapes(desc.input) == inputs
    outputs = {v.name: list(v.shape) for v in fn.outputs}
    assert feature_shapes(desc.output) == outputs


def test_multifunction_state_and_shared_weight(mil_packages):
    folder, _ = mil_packages
    spec, prog = load_package(folder, "stateful_multifunction")
    desc = spec.description
    assert desc.defaultFunctionName == "infer"
    assert len(desc.input) == 0 and len(desc.output) == 0
    assert [f.name for f in desc.functions] == ["infer", "prefill"]
    for f in desc.functions:
        assert [s.name for s in f.state] == ["kv_cache"]
        state = f.state[0].type.stateType.arrayType
        assert list(state.shape) == [1, 8, 16]
        assert state.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT16
        assert sorted(i.name for i in f.input) == ["position", "x"]
    offsets = set()
    for fn_name in ("infer", "prefill"):
        op = const_ops_in_spec(spec, fn_name)["proj_w"]
        offsets.add(op.attributes["val"].blobFileValue.offset)
        state_input = [i for i in spec.mlProgram.functions[fn_name].inputs if i.name == "kv_cache"]
        assert state_input and state_input[0].type.WhichOneof("type") == "stateType"
    assert len(offsets) == 1, "both functions must share the weight blob"
    prefill_shape = list(prog.functions["prefill"].inputs["x"].shape)
    assert prefill_shape == [1, 4, 16]


def test_loader_rejects_a_wrong_declared_type(mil_packages):
    """The cross-check has teeth: a declared output shape that disagrees with coremltools' own
    inference (here: add_out's last dim 8 -> 9) must make the rebuild fail."""
    folder, _ = mil_packages
    path = os.path.join(folder, "elementwise.mlpackage")
    spec = ct.models.MLModel(path, skip_model_load=True).get_spec()
    block = spec.mlProgram.functions["main"].block_specializations["CoreML8"]
    target = [op for op in block.operations if op.type == "add"][0]
    dims = target.outputs[0].type.tensorType.dimensions
    dims[len(dims) - 1].constant.size = 9
    weights_dir = os.path.join(path, "Data", "com.apple.CoreML", "weights")
    with pytest.raises(AssertionError, match="Mismatch between var types"):
        milproto_load(spec, spec.specificationVersion, weights_dir)


def test_blob_values_come_from_the_weight_file(mil_packages):
    """Pointing a blob constant at another blob changes the values coremltools reads, so the value
    comparison really reads weight.bin at the declared offset."""
    folder, manifest = mil_packages
    path = os.path.join(folder, "constants.mlpackage")
    spec = ct.models.MLModel(path, skip_model_load=True).get_spec()
    consts = const_ops_in_spec(spec, "main")
    a = consts["c_fp16_blob"].attributes["val"].blobFileValue
    b = consts["c_int8_blob"].attributes["val"].blobFileValue
    assert a.offset != b.offset
    weights_dir = os.path.join(path, "Data", "com.apple.CoreML", "weights")
    prog = milproto_load(spec, spec.specificationVersion, weights_dir)
    got = vars_by_name(prog.functions["main"])["c_fp16_blob"][1].val.astype(np.float64)
    np.testing.assert_array_equal(got, manifest["constants"]["functions"]["main"]["consts"]["c_fp16_blob"]["values"])
    # int8 blob read as fp16: the weight reader checks the blob's dtype code and refuses.
    a.offset = b.offset
    with pytest.raises(Exception):
        milproto_load(spec, spec.specificationVersion, weights_dir)
