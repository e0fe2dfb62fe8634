"""The reader's int8 graph (qa.reader.quantize) on a small MatMul graph of known weights: per-token activation
scales, and the unsigned weights that make the products exact on every CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.reader.quantize import int8_products_saturate, per_token_activations, rewrite_file, unsigned_weights

HIDDEN, OUT = 16, 8


def _float_model(path: Path, weight: np.ndarray, bias: np.ndarray) -> None:
    """x (rows, tokens, HIDDEN) @ weight + bias, as torch exports a Linear."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "weight"], ["product"], name="dense/MatMul"),
            helper.make_node("Add", ["product", "bias"], ["y"], name="dense/Add"),
        ],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", "tokens", HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", "tokens", OUT])],
        [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    """(session of the per-token file with unsigned weights, session of it as written (int8 weights), float
    weight, bias, the int8 weight onnxruntime chose, its scales). The weight's first column is all ones: quantized
    to 127, the largest int8 product with a row of the largest activations (255 × 127 a pair, more than int16
    holds), which a CPU without VNNI saturates unless the weights are unsigned."""
    import onnx
    import onnxruntime
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = tmp_path_factory.mktemp("quantize")
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(HIDDEN, OUT)).astype(np.float32)
    weight[:, 0] = 1.0
    bias = rng.normal(size=OUT).astype(np.float32)
    _float_model(folder / "float.onnx", weight, bias)
    quantize_dynamic(folder / "float.onnx", folder / "tensor.onnx", per_channel=True, weight_type=QuantType.QInt8)
    rewrite_file(folder / "tensor.onnx", folder / "token.onnx")
    model = onnx.load(str(folder / "token.onnx"))
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    signed = onnxruntime.InferenceSession(str(folder / "token.onnx"), providers=["CPUExecutionProvider"])
    unsigned_weights(model)
    unsigned = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return unsigned, signed, weight, bias, values["weight_quantized"].astype(np.float32), values["weight_scale"]


def _reference(x: np.ndarray, quantized_weight: np.ndarray, weight_scale: np.ndarray, bias: np.ndarray):
    """Each token's row scaled by its own largest magnitude into -127..127, rounded half to even."""
    scale = np.maximum(np.abs(x).max(axis=-1, keepdims=True), np.float32(1e-8)) / np.float32(127)
    levels = np.clip(np.rint(x / scale), -127, 127)
    return (levels @ quantized_weight) * weight_scale * scale + bias


def test_each_token_gets_its_own_scale(rewritten):
    session, _, weight, bias, quantized_weight, weight_scale = rewritten
    rng = np.random.default_rng(4)
    # tokens of very different magnitudes: one scale for the tensor would flatten the small ones to a few levels
    x = (rng.normal(size=(3, 5, HIDDEN)) * rng.choice([0.01, 1.0, 50.0], size=(3, 5, 1))).astype(np.float32)
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, _reference(x, quantized_weight, weight_scale, bias), rtol=1e-4, atol=1e-4)
    relative = np.abs(y - (x @ weight + bias)) / np.abs(x @ weight).max(axis=-1, keepdims=True)
    assert relative.max() < 0.05  # every token near its float product, the smallest ones too


def test_a_row_reads_the_same_alone_and_beside_a_larger_one(rewritten):
    session = rewritten[0]
    rng = np.random.default_rng(5)
    row = rng.normal(size=(1, 4, HIDDEN)).astype(np.float32)
    loud = (rng.normal(size=(1, 4, HIDDEN)) * 100).astype(np.float32)
    (alone,) = session.run(None, {"x": row})
    (together,) = session.run(None, {"x": np.concatenate([row, loud])})
    assert np.array_equal(alone[0], together[0])


def test_unsigned_weights_multiply_exactly_on_every_cpu(rewritten):
    """The largest activations against the all-ones column: exact with unsigned weights wherever this runs, and
    with the int8 weights exactly where int8_products_saturate() says this CPU does not saturate."""
    unsigned, signed, _, bias, quantized_weight, weight_scale = rewritten
    x = np.full((1, 2, HIDDEN), 3.0, np.float32)  # every level 127, stored as 255
    expected = _reference(x, quantized_weight, weight_scale, bias)
    (exact,) = unsigned.run(None, {"x": x})
    np.testing.assert_allclose(exact, expected, rtol=1e-5, atol=1e-5)
    (as_written,) = signed.run(None, {"x": x})
    assert np.allclose(as_written, expected, rtol=1e-5, atol=1e-5) != int8_products_saturate()
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 5, HIDDEN)).astype(np.float32)
    if not int8_products_saturate():  # the same numbers: the same readings where int8 is exact
        assert np.array_equal(unsigned.run(None, {"x": x})[0], signed.run(None, {"x": x})[0])


def test_unsigned_weights_are_the_same_numbers(tmp_path):
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(7)
    _float_model(tmp_path / "float.onnx", rng.normal(size=(HIDDEN, OUT)).astype(np.float32), np.zeros(OUT, np.float32))
    quantize_dynamic(tmp_path / "float.onnx", tmp_path / "tensor.onnx", per_channel=True, weight_type=QuantType.QInt8)
    model = onnx.load(str(tmp_path / "tensor.onnx"))
    before = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    unsigned_weights(model)
    after = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert before["weight_quantized"].dtype == np.int8 and after["weight_quantized"].dtype == np.uint8
    np.testing.assert_array_equal(
        after["weight_quantized"].astype(np.int32) - after["weight_zero_point"].astype(np.int32),
        before["weight_quantized"].astype(np.int32) - before["weight_zero_point"].astype(np.int32),
    )
    onnx.checker.check_model(model)


def test_a_zero_point_shared_by_two_weights_is_shifted_once():
    from onnx import TensorProto, helper, numpy_helper

    weights = {"w1": np.arange(-6, 6, dtype=np.int8).reshape(4, 3), "w2": np.arange(6, -6, -1, dtype=np.int8)}
    weights["w2"] = weights["w2"].reshape(4, 3)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["x", w, "", "zp"], [f"y_{w}"]) for w in weights],
        "shared",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4])],
        [helper.make_tensor_value_info(f"y_{w}", TensorProto.INT32, [1, 3]) for w in weights],
        [numpy_helper.from_array(v, w) for w, v in weights.items()]
        + [numpy_helper.from_array(np.zeros(3, np.int8), "zp")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    unsigned_weights(model)
    after = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for w, before in weights.items():
        np.testing.assert_array_equal(after[w], (before.astype(np.int16) + 128).astype(np.uint8))
    np.testing.assert_array_equal(after["zp"], np.full(3, 128, np.uint8))


def test_a_graph_of_another_shape_is_refused(tmp_path):
    import onnx

    _float_model(tmp_path / "float.onnx", np.eye(HIDDEN, OUT, dtype=np.float32), np.zeros(OUT, np.float32))
    with pytest.raises(ValueError, match="no per-tensor dynamic quantization"):
        per_token_activations(onnx.load(str(tmp_path / "float.onnx")))
