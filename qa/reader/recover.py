"""The trained network recovered from an exported reader, to train it further when its checkpoint is gone, or to
export it again with a better export (qa.reader.reexport: the weights stay, the graph is today's).

The export keeps every weight: biases and layer norms as they were, MatMul weights as int8 per output channel,
the position and token-type tables as uint8 per tensor. Dequantized, they give back the network up to the
quantization's rounding (the ONNX file runs those same weights), so a later round can start from a shipped
reader instead of retraining its rounds from the base weights. The word embeddings are taken from the base model:
training never changes them (qa.reader.train freezes them), so they come back exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

# A quantized MatMul's output names the module it belongs to: "/encoder/encoder/layer.0/attention/self/query/
# MatMul_output_0_output_quantized" (or, per token, "…/MatMul_output_0/per_channel") is
# encoder.encoder.layer.0.attention.self.query.
_MODULE = re.compile(r"^/(.+?)/(?:MatMul|Gemm)_output")


def _dequantized(values: dict[str, np.ndarray], name: str) -> np.ndarray:
    quantized = values[f"{name}_quantized"].astype(np.float32)
    return (quantized - values[f"{name}_zero_point"].astype(np.float32)) * values[f"{name}_scale"]


def exported_state(model: Path) -> dict[str, np.ndarray]:
    """The state dict of qa.reader.train's network, without the word embeddings, read out of `model` (an int8
    reader.onnx as qa.reader.export writes it)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model)).graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # biases and layer norms keep their module's names; quantized weights carry suffixes (and often no name)
    state = {n: a for n, a in values.items() if "." in n and not n.endswith(("_scale", "_zero_point", "_quantized"))}
    for table in ("position_embeddings", "token_type_embeddings"):
        state[f"encoder.embeddings.{table}.weight"] = _dequantized(values, f"encoder.embeddings.{table}.weight")
    for node in graph.node:
        if node.op_type not in ("MatMulInteger", "MatMulIntegerToFloat"):  # per tensor, per token
            continue
        found = _MODULE.match(node.output[0])
        if found is None:
            raise ValueError(f"cannot tell which module {node.output[0]} belongs to")
        weight = node.input[1].removesuffix("_quantized")
        state[found.group(1).replace("/", ".") + ".weight"] = _dequantized(values, weight).T.copy()
    return state


def load_exported(net, model: Path) -> None:
    """Set `net` (qa.reader.train's network, with the layers the export has) to the exported weights; raises
    ValueError when they do not fit it."""
    import torch

    state = {name: torch.from_numpy(np.array(a)) for name, a in exported_state(model).items()}
    state["encoder.embeddings.word_embeddings.weight"] = net.encoder.embeddings.word_embeddings.weight.detach()
    own = net.state_dict()
    missing = [n for n in own if n not in state and not n.endswith("position_ids")]
    unknown = [n for n in state if n not in own]
    shapes = [n for n in state if n in own and tuple(own[n].shape) != tuple(state[n].shape)]
    if missing or unknown or shapes:
        raise ValueError(f"the export does not fit the network: missing {missing}, unknown {unknown}, shape {shapes}")
    net.load_state_dict(state, strict=False)
