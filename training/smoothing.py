"""Activation smoothing before dynamic int8 quantization (SmoothQuant, Xiao et al. 2023).

Dynamic int8 quantizes each MatMul input with one scale per tensor, and a few outlier
channels of the encoder's hidden states then waste most of the int8 range. Smoothing divides
each input channel j by ``s_j = amax_j ** alpha / wmax_j ** (1 - alpha)`` (one ``Mul`` node)
and multiplies row j of every weight reading that input by ``s_j``: the fp32 function is
unchanged, and part of the outliers' range moves into the weights, which are quantized per
output channel.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from service.cases import ModelInput
from service.encoding import CaseEncoder
from service.model_version import INPUT_NAMES

logger = logging.getLogger(__name__)

CALIBRATION_BATCH = 32
# Scales beyond this range would only reflect dead channels (amax or wmax near zero).
MIN_SCALE, MAX_SCALE = 1e-3, 1e3


def check_alpha(alpha: float) -> None:
    """Raises ``ValueError`` unless 0 < ``alpha`` < 1 (0 and 1 would put all range on one side)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"smooth_alpha must be in (0, 1), got {alpha}")


def weight_matmuls(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Positions of the MatMuls whose second input is a 2-D weight, grouped by the activation they read.

    A weight that any other node also reads is left out with its whole group: scaling it for
    one reader would change what the others compute.
    """
    weights = {i.name for i in model.graph.initializer if len(i.dims) == 2}
    readers = Counter(name for node in model.graph.node for name in node.input if name in weights)
    groups: dict[str, list[int]] = {}
    shared: set[str] = set()
    for position, node in enumerate(model.graph.node):
        if node.op_type == "MatMul" and node.input[1] in weights and node.input[0] not in INPUT_NAMES:
            groups.setdefault(node.input[0], []).append(position)
            if readers[node.input[1]] > 1:
                shared.add(node.input[0])
    return {name: positions for name, positions in groups.items() if name not in shared}


def activation_ranges(
    model: onnx.ModelProto, encoder: CaseEncoder, inputs: Sequence[ModelInput]
) -> dict[str, np.ndarray]:
    """Per-channel absolute maximum of every weight MatMul's input over the real tokens of ``inputs``."""
    if not inputs:
        raise ValueError("activation smoothing needs at least one calibration input")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(weight_matmuls(model))
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for start in range(0, len(inputs), CALIBRATION_BATCH):
        chunk = inputs[start : start + CALIBRATION_BATCH]
        batch = encoder.encode_inputs(chunk)
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        real_tokens = batch.attention_mask.astype(bool)
        for name, activation in zip(names, session.run(names, feeds), strict=True):
            if activation.ndim != 3:
                continue  # only token states [batch, sequence, channels] are smoothed
            # Ranges come from real tokens only; padding still shares the served scale, but
            # calibrating on it would spend range on positions no prediction reads.
            amax = np.abs(activation[real_tokens]).max(axis=0)
            ranges[name] = np.maximum(ranges[name], amax) if name in ranges else amax
    return ranges


def smooth(model: onnx.ModelProto, ranges: dict[str, np.ndarray], alpha: float) -> int:
    """Rewrites ``model`` in place with one smoothing ``Mul`` per calibrated input; returns how many."""
    check_alpha(alpha)
    initializers = {i.name: i for i in model.graph.initializer}
    graph_nodes = model.graph.node
    smoothing_before: dict[int, onnx.NodeProto] = {}
    for name, positions in weight_matmuls(model).items():
        if name not in ranges:
            continue
        readers = [graph_nodes[p] for p in positions]
        weights = [numpy_helper.to_array(initializers[n.input[1]]) for n in readers]
        wmax = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        scale = np.maximum(ranges[name], 1e-8) ** alpha / np.maximum(wmax, 1e-8) ** (1.0 - alpha)
        scale = np.clip(scale, MIN_SCALE, MAX_SCALE).astype(np.float32)
        for node, weight in zip(readers, weights, strict=True):
            initializers[node.input[1]].CopyFrom(
                numpy_helper.from_array((weight * scale[:, None]).astype(np.float32), node.input[1])
            )
            node.input[0] = f"{name}/smoothed"
        model.graph.initializer.append(numpy_helper.from_array(1.0 / scale, f"{name}/smooth_inverse"))
        # Placed right before its first reader, so the graph stays topologically sorted.
        smoothing_before[positions[0]] = helper.make_node(
            "Mul", [name, f"{name}/smooth_inverse"], [f"{name}/smoothed"], name=f"{name}/SmoothMul"
        )
    nodes = []
    for position, node in enumerate(graph_nodes):
        if position in smoothing_before:
            nodes.append(smoothing_before[position])
        nodes.append(onnx.NodeProto.FromString(node.SerializeToString()))
    del graph_nodes[:]
    graph_nodes.extend(nodes)
    logger.info("smoothed the inputs of %d MatMul groups (alpha %.2f)", len(smoothing_before), alpha)
    return len(smoothing_before)
