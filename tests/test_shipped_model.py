"""The shipped default version is complete and servable from a fresh clone (its quality lives in eval/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service import model_version as mv
from service.cases import case_to_text
from service.predictor import Predictor
from training.corpus.schema import load_label_schema

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MAX_INT8_BYTES = 80 * 1024 * 1024


@pytest.fixture(scope="module")
def shipped() -> mv.ModelVersion:
    return mv.load_model_version(mv.resolve_version_path(MODELS_DIR))


def test_default_version_carries_everything_it_needs(shipped: mv.ModelVersion) -> None:
    for name in (mv.ONNX_INT8_FILE, mv.TOKENIZER_FILE, mv.LABELS_FILE, mv.THRESHOLDS_FILE, mv.ROUTING_FILE):
        assert (shipped.path / name).is_file(), name
    assert (shipped.path / "MODEL_CARD.md").is_file()
    assert (shipped.path / mv.ONNX_INT8_FILE).stat().st_size < MAX_INT8_BYTES
    assert shipped.heads == load_label_schema(), "the shipped heads are the labeling guide's"
    for key in ("base_model", "data_sha256", "training_config", "libraries", "git_commit"):
        assert shipped.manifest.get(key), key
    assert set(shipped.metrics["int8_vs_fp32_dev_argmax_agreement"]) == set(shipped.heads)


def test_default_version_serves_in_int8(shipped: mv.ModelVersion) -> None:
    dialogue = [{"role": "customer", "text": "我要退款"}, {"role": "agent", "text": "好的"}]
    cases: list[dict[str, Any]] = [{"text": "快递五天了还没到，客服也不回消息"}, {"dialogue": dialogue}]
    predictions = Predictor(shipped, precision="int8").predict([case_to_text(c) for c in cases])
    assert len(predictions) == 2
    for prediction in predictions:
        for head, labels in shipped.heads.items():
            assert prediction[head].label in labels
            assert sum(prediction[head].scores.values()) == pytest.approx(1.0, abs=1e-4)
