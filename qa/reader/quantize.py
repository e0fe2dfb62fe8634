"""Per-token activation scales for the int8 reader, so that a sentence reads the same whatever is read with it.

onnxruntime's dynamic quantization gives each MatMul's input one scale for the whole tensor: a padded batch of six
candidates shares it, so a candidate's probability moved by up to 0.2 with its neighbours. This rewrite gives
every token its own symmetric scale (its largest magnitude over the hidden units maps to 127), computed in the
graph and applied by a blocked QuantizeLinear, and keeps the int8 weights exactly as they were. The fused integer
MatMul (`MatMulIntegerToFloat`, the activations' zero point at 128) scales by the weights' channels; the token's
scale then multiplies its output row. A token's reading depends on its own row alone, and on validation questions
the file is about three times closer to the float network than with one scale a tensor (docs/reader.md), for a
few per cent more of the reader's time.

On an x86 CPU without VNNI (AVX2 only) onnxruntime sums pairs of uint8 × int8 products in int16, which saturates
for the largest values; stored as uint8 (the same numbers, shifted by 128), the weights are multiplied exactly
there too, and the reader reads as on a CPU with VNNI (exact_on_this_cpu).
"""

from __future__ import annotations

import collections
import functools
from pathlib import Path

import numpy as np

# The activations' zero point: rows are quantized symmetrically into 1..255, so zero sits at 128.
_ZERO_POINT = 128
# QuantizeLinear quantizes blocks of the last axis with a scale each (opset 21); one block longer than any row
# makes one scale a token.
_OPSET = 21
_WHOLE_ROW = 1 << 20
_CONSTANTS = {
    "per_token/127": (127.0, np.float32),
    "per_token/tiny": (1e-8, np.float32),  # an all-zero row gets a scale, not a division by zero
    "per_token/none": (0.0, np.float32),
    "per_token/one": (1.0, np.float32),
    "per_token/zero_point": (_ZERO_POINT, np.uint8),
    "per_token/zero_point_float": (float(_ZERO_POINT), np.float32),
    "per_token/last_axis": ([-1], np.int64),
}


def per_token_activations(model) -> None:
    """Rewrite `model` (an onnx ModelProto made by onnxruntime's `quantize_dynamic`: every DynamicQuantizeLinear
    feeding MatMulInteger → Cast → Mul by the product of the two scales) in place; raises ValueError for a graph
    of another shape (one that is already per token included)."""
    from onnx import TensorProto, helper, numpy_helper, version_converter

    if not any(n.op_type == "DynamicQuantizeLinear" for n in model.graph.node):
        raise ValueError("the model has no per-tensor dynamic quantization to rewrite")
    if next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < _OPSET:
        model.CopyFrom(version_converter.convert_version(model, _OPSET))
    graph = model.graph
    consumers: dict[str, list] = collections.defaultdict(list)
    producer = {}
    for i, node in enumerate(graph.node):
        node.name = node.name or f"per_token/unnamed/{i}"  # nodes are told apart by name below
        for name in node.input:
            consumers[name].append(node)
        for name in node.output:
            producer[name] = node

    def only(name: str, op_type: str):
        users = consumers[name]
        if len(users) != 1 or users[0].op_type != op_type:
            raise ValueError(f"{name} feeds {[u.op_type for u in users]}, not one {op_type}")
        return users[0]

    replaced: dict[str, list] = {}
    dropped: set[str] = set()
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            continue
        x, (quantized, tensor_scale, _) = node.input[0], node.output
        p = f"{x}/per_token"
        replaced[node.name] = [
            helper.make_node("Abs", [x], [f"{p}/abs"]),
            helper.make_node("ReduceMax", [f"{p}/abs", "per_token/last_axis"], [f"{p}/max"], keepdims=1),
            helper.make_node("Max", [f"{p}/max", "per_token/tiny"], [f"{p}/range"]),
            helper.make_node("Div", [f"{p}/range", "per_token/127"], [f"{p}/scale"]),
            # QuantizeLinear wants a zero point shaped as its scales: 128 for every token
            helper.make_node("Mul", [f"{p}/scale", "per_token/none"], [f"{p}/nothing"]),
            helper.make_node("Add", [f"{p}/nothing", "per_token/zero_point_float"], [f"{p}/zero_float"]),
            helper.make_node("Cast", [f"{p}/zero_float"], [f"{p}/zero"], to=TensorProto.UINT8),
            helper.make_node(
                "QuantizeLinear", [x, f"{p}/scale", f"{p}/zero"], [quantized], axis=-1, block_size=_WHOLE_ROW
            ),
        ]
        for matmul in consumers[quantized]:
            if matmul.op_type != "MatMulInteger" or matmul.input[0] != quantized or len(matmul.input) != 4:
                raise ValueError(f"{quantized} feeds {matmul.op_type} {matmul.name}, not a MatMulInteger's input A")
            cast = only(matmul.output[0], "Cast")
            rescale = only(cast.output[0], "Mul")
            scales = producer[next(i for i in rescale.input if i != cast.output[0])]
            if scales.op_type != "Mul" or tensor_scale not in scales.input:
                raise ValueError(f"{rescale.name} does not multiply by {tensor_scale} times the weights' scale")
            weight_scale = next(i for i in scales.input if i != tensor_scale)
            unscaled = f"{rescale.output[0]}/per_channel"
            weight, weight_zero_point = matmul.input[1], matmul.input[3]
            replaced[matmul.name] = [
                helper.make_node(
                    "MatMulIntegerToFloat",
                    [quantized, weight, "per_token/one", weight_scale, "per_token/zero_point", weight_zero_point],
                    [unscaled],
                    name=matmul.name,
                    domain="com.microsoft",
                ),
                helper.make_node("Mul", [unscaled, f"{p}/scale"], [rescale.output[0]]),
            ]
            dropped.update((cast.name, rescale.name, scales.name))
    nodes = [new for node in graph.node if node.name not in dropped for new in replaced.get(node.name, [node])]
    graph.ClearField("node")
    graph.node.extend(nodes)
    graph.ClearField("value_info")  # the rewritten tensors' shapes and types changed; onnxruntime infers them
    graph.initializer.extend(numpy_helper.from_array(np.array(v, t), name) for name, (v, t) in _CONSTANTS.items())
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def rewrite_file(source: Path, target: Path) -> None:
    """`source` (a per-tensor int8 reader) rewritten per token into `target`, checked by onnx."""
    import onnx

    model = onnx.load(str(source))
    per_token_activations(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


@functools.cache  # the CPU does not change while the process runs
def int8_products_saturate() -> bool:
    """Whether onnxruntime's integer MatMul on this CPU sums pairs of uint8 × int8 products in int16, which
    saturates: x86 without VNNI (AVX2 only) does. Probed on one pair of the largest values (exactly 64,770)."""
    from onnx import TensorProto, helper, numpy_helper

    from embeddings.offline import onnxruntime

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "saturation_probe",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1])],
        [numpy_helper.from_array(np.full((2, 1), 127, np.int8), "b")],
    )
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    session = onnxruntime().InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    (product,) = session.run(None, {"a": np.full((1, 2), 255, np.uint8)})
    return int(product[0, 0]) != 255 * 127 * 2


def unsigned_weights(model) -> None:
    """Store the int8 weights of every integer MatMul of `model` (an onnx ModelProto) as uint8, in place: each
    weight and its zero point plus 128, so the same numbers. onnxruntime multiplies uint8 by uint8 in int32 on
    every CPU, where uint8 by int8 saturates on some (int8_products_saturate)."""
    from onnx import TensorProto, numpy_helper

    initializers = {i.name: i for i in model.graph.initializer}
    weight_inputs = {"MatMulInteger": (1, 3), "MatMulIntegerToFloat": (1, 5)}
    shifted: set[str] = set()  # a weight or zero point that several nodes share is shifted once
    for node in model.graph.node:
        if node.op_type not in weight_inputs:
            continue
        weight, zero_point = (node.input[i] if i < len(node.input) else "" for i in weight_inputs[node.op_type])
        if weight not in initializers or initializers[weight].data_type != TensorProto.INT8:
            continue
        if zero_point not in initializers:  # an int8 weight's zero point defaults to 0
            raise ValueError(f"{node.name}: the weights' zero point is not stored in the model")
        for name in (weight, zero_point):
            if name not in shifted:
                values = numpy_helper.to_array(initializers[name]).astype(np.int16) + 128
                initializers[name].CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
                shifted.add(name)


def exact_on_this_cpu(path: Path) -> str | bytes:
    """The model at `path` as onnxruntime's InferenceSession should take it here: the file's path, or where this
    CPU's int8 products saturate, the model with unsigned weights (serialized), which reads as the file does on a
    CPU with VNNI. On an AMD EPYC with AVX2 only the shipped reader then gave BBC dev the figures of an AVX-512
    machine to the third decimal, one question more than the file as it is (docs/reader.md)."""
    if not int8_products_saturate():
        return str(path)
    import onnx

    model = onnx.load(str(path))
    unsigned_weights(model)
    return model.SerializeToString()
