"""Activation smoothing before int8: fp32 function kept, outlier channels flatter, every MatMul int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from service import model_version as mv
from service.encoding import CaseEncoder
from training.export import export_version, onnx_logits, session_for
from training.smoothing import activation_ranges, smooth, weight_matmuls

ATOL, RTOL = 1e-4, 1e-3
CALIBRATION = [
    ("快递五天了还没到，客服也不回消息", False),
    ("我要投诉！你们乱扣费，不解决我就打12315", False),
    ("客户：短信发不出去 客服：请换个手机试试 客户：那好吧", True),
    ("谢谢，问题已经解决了", False),
]


def logits(model: onnx.ModelProto, encoder: CaseEncoder, path: Path) -> list[np.ndarray]:
    onnx.save(model, str(path))
    batch = encoder.encode_inputs(CALIBRATION)
    return onnx_logits(session_for(path), batch.input_ids, batch.attention_mask)


def spread(ranges: dict[str, np.ndarray]) -> float:
    """Mean ratio of the largest channel range to the median one: how much outliers dominate."""
    return float(np.mean([r.max() / np.median(r) for r in ranges.values()]))


@pytest.fixture()
def fp32_graph(tiny_model_version: Path) -> onnx.ModelProto:
    return onnx.load(str(tiny_model_version / mv.ONNX_FP32_FILE))


@pytest.fixture()
def encoder(tiny_model_version: Path) -> CaseEncoder:
    return CaseEncoder.from_file(tiny_model_version / mv.TOKENIZER_FILE, 64)


def test_smoothing_keeps_the_fp32_function_and_flattens_outliers(
    fp32_graph: onnx.ModelProto, encoder: CaseEncoder, tmp_path: Path
) -> None:
    groups = weight_matmuls(fp32_graph)
    before = activation_ranges(fp32_graph, encoder, CALIBRATION)
    smoothed = onnx.ModelProto()
    smoothed.CopyFrom(fp32_graph)

    assert smooth(smoothed, before, alpha=0.8) == len(groups) > 0

    onnx.checker.check_model(smoothed)
    for ref, got in zip(
        logits(fp32_graph, encoder, tmp_path / "fp32.onnx"),
        logits(smoothed, encoder, tmp_path / "smoothed.onnx"),
        strict=True,
    ):
        np.testing.assert_allclose(got, ref, atol=ATOL, rtol=RTOL)
    after = activation_ranges(smoothed, encoder, CALIBRATION)
    assert set(after) == {f"{name}/smoothed" for name in groups}
    assert spread(after) < spread(before)


def test_smoothing_rejects_an_alpha_outside_the_open_unit_interval(
    fp32_graph: onnx.ModelProto, encoder: CaseEncoder
) -> None:
    ranges = activation_ranges(fp32_graph, encoder, CALIBRATION[:1])
    for alpha in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="smooth_alpha must be in"):
            smooth(fp32_graph, ranges, alpha)
    with pytest.raises(ValueError, match="calibration input"):
        activation_ranges(fp32_graph, encoder, [])


def test_export_with_a_bad_alpha_fails_before_reading_the_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="smooth_alpha"):
        export_version(tmp_path / "no-checkpoint", tmp_path, "bad-alpha", smooth_alpha=1.5)
    assert not list(tmp_path.iterdir())


def test_a_weight_read_by_another_node_is_not_smoothed(fp32_graph: onnx.ModelProto) -> None:
    groups = weight_matmuls(fp32_graph)
    activation, positions = next(iter(groups.items()))
    weight = fp32_graph.graph.node[positions[0]].input[1]
    fp32_graph.graph.node.append(onnx.helper.make_node("Identity", [weight], ["weight_copy"]))
    assert activation not in weight_matmuls(fp32_graph)
    assert len(weight_matmuls(fp32_graph)) == len(groups) - 1


def test_every_weight_matmul_of_the_shipped_int8_graph_is_int8(tiny_model_version: Path) -> None:
    int8 = onnx.load(str(tiny_model_version / mv.ONNX_INT8_FILE))
    assert not weight_matmuls(int8), "a MatMul with a float weight was left in the int8 graph"
    fp32_weight_matmuls = sum(
        map(len, weight_matmuls(onnx.load(str(tiny_model_version / mv.ONNX_FP32_FILE))).values())
    )
    # The heads' Gemms are quantized too, so there are more integer MatMuls than encoder ones.
    assert sum(n.op_type == "MatMulInteger" for n in int8.graph.node) >= fp32_weight_matmuls > 0
    quantization = mv.load_model_version(tiny_model_version).manifest["quantization"]
    assert quantization["smooth_alpha"] == 0.8
    assert quantization["calibration_cases"] > 0
    assert quantization["smoothed_matmul_inputs"] > 0
