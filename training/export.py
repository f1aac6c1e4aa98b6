"""``kesu export``: a trained checkpoint becomes an immutable model version under ``models/``.

Writes the fp32 ONNX graph (checked against torch), the int8 dynamically quantized graph
(checked against fp32 on the dev set), tokenizer, label maps, decision thresholds tuned
on dev, routing table, metrics and a manifest of how the version was made.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from datasets import Dataset
from onnxruntime.quantization import QuantType, quantize_dynamic

from service import model_version as mv
from service.cases import ModelInput
from service.encoding import CaseEncoder
from service.predictor import Predictor
from service.routing import default_routing
from training.config import TrainConfig
from training.corpus.dataset import corpus_hash, load_corpus, model_inputs
from training.model import MultiHeadClassifier
from training.smoothing import activation_ranges, check_alpha, smooth
from training.thresholds import tune_thresholds
from training.train import STATE_FILE

logger = logging.getLogger(__name__)

OPSET = 17
PARITY_ATOL = 1e-4
PARITY_RTOL = 1e-3
MIN_INT8_AGREEMENT = 0.99
# Share of each outlier channel's range moved into the weights. With every MatMul int8, 0.8 gave
# v3's best worst-head int8/fp32 dev agreement of alphas 0.3-0.95 (98.1%; unsmoothed 93.8%).
SMOOTH_ALPHA = 0.8
CALIBRATION_CASES = 512
PARITY_TEXTS = (
    "快递五天了还没到，客服也不回消息",
    "我要投诉！你们乱扣费，不解决我就打12315",
    "谢谢，问题已经解决了",
    "客户：短信发不出去 客服：请换个手机试试 客户：那好吧",
    "这个多少钱",
)
# (text, is_dialogue): a dialogue keeps its end when it is truncated.
PARITY_INPUTS = [(text, text.startswith("客户：")) for text in PARITY_TEXTS]


class ExportCheckError(RuntimeError):
    """The exported graphs failed a parity or agreement check; no version was written."""


LIBRARIES = ("torch", "transformers", "onnx", "onnxruntime", "tokenizers", "datasets", "numpy")


class OnnxExportWrapper(torch.nn.Module):
    def __init__(self, model: MultiHeadClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.model(input_ids, attention_mask)


def export_onnx(model: MultiHeadClassifier, encoder: CaseEncoder, path: Path) -> None:
    # SDPA's mask handling is traced as Python constants; eager attention exports faithfully.
    model.encoder.set_attn_implementation("eager")
    sample = encoder.encode(list(PARITY_TEXTS[:2]))
    outputs = [mv.LOGITS_PREFIX + h for h in model.head_labels]
    axes = {name: {0: "batch", 1: "sequence"} for name in mv.INPUT_NAMES}
    axes.update({name: {0: "batch"} for name in outputs})
    torch.onnx.export(
        OnnxExportWrapper(model).eval(),
        (torch.from_numpy(sample.input_ids), torch.from_numpy(sample.attention_mask)),
        str(path),
        input_names=list(mv.INPUT_NAMES),
        output_names=outputs,
        dynamic_axes=axes,
        opset_version=OPSET,
        dynamo=False,
    )


def quantize(
    fp32_path: Path,
    int8_path: Path,
    encoder: CaseEncoder,
    calibration: Sequence[ModelInput],
    smooth_alpha: float = SMOOTH_ALPHA,
) -> int:
    """Smooths a copy of the fp32 graph on ``calibration`` inputs, then quantizes every MatMul to
    int8 (dynamic, per-channel weight scales); returns how many MatMul inputs were smoothed."""
    model = onnx.load(str(fp32_path))
    smoothed = smooth(model, activation_ranges(model, encoder, calibration), smooth_alpha)
    smoothed_path = int8_path.with_name("smoothed." + fp32_path.name)
    onnx.save(model, str(smoothed_path))
    try:
        quantize_dynamic(str(smoothed_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        smoothed_path.unlink()
    return smoothed


def calibration_inputs(train_split: Dataset | None) -> list[ModelInput]:
    """Up to ``CALIBRATION_CASES`` training cases (fixed seed); the parity texts when there is no corpus."""
    if train_split is None:
        logger.warning(
            "no corpus given: int8 smoothing is calibrated on the %d parity texts only", len(PARITY_INPUTS)
        )
        return PARITY_INPUTS
    shuffled = train_split.shuffle(seed=0)
    return model_inputs(shuffled.select(range(min(CALIBRATION_CASES, len(shuffled)))))


def onnx_logits(
    session: ort.InferenceSession, input_ids: np.ndarray, attention_mask: np.ndarray
) -> list[np.ndarray]:
    return list(session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask}))


def check_fp32_parity(
    model: MultiHeadClassifier, encoder: CaseEncoder, session: ort.InferenceSession
) -> float:
    """Max absolute logit difference between torch and the fp32 graph; raises past atol/rtol."""
    batch = encoder.encode_inputs(PARITY_INPUTS)
    with torch.no_grad():
        reference = [
            t.numpy()
            for t in model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
        ]
    exported = onnx_logits(session, batch.input_ids, batch.attention_mask)
    worst = 0.0
    for head, ref, got in zip(model.head_labels, reference, exported, strict=True):
        worst = max(worst, float(np.abs(ref - got).max()))
        if not np.allclose(ref, got, atol=PARITY_ATOL, rtol=PARITY_RTOL):
            raise ExportCheckError(
                f"ONNX fp32 logits of head {head!r} differ from torch by {np.abs(ref - got).max():.2e}"
            )
    return worst


def session_for(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def export_version(
    checkpoint: Path,
    models_dir: Path,
    version: str,
    data_dir: Path | None = None,
    set_default: bool = False,
    keep_fp32: bool = True,
    min_int8_agreement: float = MIN_INT8_AGREEMENT,
    smooth_alpha: float = SMOOTH_ALPHA,
) -> Path:
    """Writes ``models_dir/version`` from a checkpoint folder (``<run>/best``); returns its path."""
    check_alpha(smooth_alpha)  # before any work, not after the fp32 export
    target = models_dir / version
    if target.exists():
        raise FileExistsError(f"model version {target} exists; versions are immutable, pick a new name")
    config = TrainConfig.from_file(checkpoint / "train_config.json")
    model = MultiHeadClassifier.load(checkpoint)
    heads = model.head_labels
    encoder = CaseEncoder.from_file(checkpoint / "tokenizer.json", config.max_length)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=models_dir))
    try:
        fp32_path, int8_path = staging / mv.ONNX_FP32_FILE, staging / mv.ONNX_INT8_FILE
        export_onnx(model, encoder, fp32_path)
        fp32 = session_for(fp32_path)
        max_diff = check_fp32_parity(model, encoder, fp32)
        corpus = None if data_dir is None else load_corpus(data_dir, list(heads), splits=("train", "dev"))
        calibration = calibration_inputs(None if corpus is None else corpus["train"])
        smoothed = quantize(fp32_path, int8_path, encoder, calibration, smooth_alpha)
        mv.write_json(
            staging / mv.LABELS_FILE, {"heads": [{"name": h, "labels": ls} for h, ls in heads.items()]}
        )
        shutil.copy(checkpoint / "tokenizer.json", staging / mv.TOKENIZER_FILE)
        mv.write_json(staging / mv.MANIFEST_FILE, {"version": version, "max_length": config.max_length})

        metrics: dict[str, Any] = {"onnx_fp32_vs_torch_max_abs_diff": max_diff}
        thresholds: dict[str, Any] = {}
        if corpus is not None:
            # The served code path scores dev: tokenization, bucketing and the graphs as shipped.
            staged = mv.load_model_version(staging)
            dev = corpus["dev"]
            inputs = model_inputs(dev)
            p32 = Predictor(staged, precision="fp32").probabilities(inputs)
            p8 = Predictor(staged, precision="int8").probabilities(inputs)
            agreement = {h: float((p32[h].argmax(1) == p8[h].argmax(1)).mean()) for h in heads}
            metrics["int8_vs_fp32_dev_argmax_agreement"] = agreement
            if min(agreement.values()) < min_int8_agreement:
                worst = min(agreement, key=agreement.__getitem__)
                raise ExportCheckError(
                    f"int8 and fp32 agree on {agreement[worst]:.3f} of dev cases for head {worst!r},"
                    f" below the required {min_int8_agreement}; per head: "
                    + ", ".join(f"{h} {a:.3f}" for h, a in agreement.items())
                )
            thresholds = tune_thresholds(p8, {h: list(dev[h]) for h in heads}, heads)
        state_path = checkpoint / STATE_FILE
        if state_path.is_file():
            metrics["training"] = json.loads(state_path.read_text(encoding="utf-8"))
        base_info_path = checkpoint / "base_conversion.json"
        manifest = {
            "version": version,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "base_model": config.base_model,
            "base_conversion": json.loads(base_info_path.read_text()) if base_info_path.is_file() else None,
            "max_length": config.max_length,
            "heads": heads,
            "training_config": config.to_dict(),
            "data_dir": str(data_dir) if data_dir else None,
            "data_sha256": None if data_dir is None else corpus_hash(data_dir),
            "libraries": library_versions(),
            "git_commit": git_commit(),
            "onnx_opset": OPSET,
            "quantization": {
                "method": "activation smoothing (SmoothQuant), then onnxruntime dynamic quantization of"
                " every MatMul: int8 weights with per-channel scales",
                "smooth_alpha": smooth_alpha,
                "smoothed_matmul_inputs": smoothed,
                "calibration_cases": len(calibration),
            },
            "files": {"onnx_int8": mv.ONNX_INT8_FILE, "onnx_fp32": mv.ONNX_FP32_FILE if keep_fp32 else None},
        }
        mv.write_json(staging / mv.THRESHOLDS_FILE, thresholds)
        mv.write_json(staging / mv.ROUTING_FILE, default_routing())
        mv.write_json(staging / mv.METRICS_FILE, metrics)
        mv.write_json(staging / mv.MANIFEST_FILE, manifest)
        if not keep_fp32:
            fp32_path.unlink()
        staging.chmod(0o755)  # mkdtemp creates it private
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if set_default:
        (models_dir / mv.DEFAULT_POINTER_FILE).write_text(version + "\n", encoding="utf-8")
    logger.info("exported %s (fp32 parity %.1e)", target, max_diff)
    return target
