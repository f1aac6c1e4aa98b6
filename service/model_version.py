"""The on-disk layout of a model version, shared by export (writer) and serving (reader).

A version folder under ``models/`` carries everything needed to serve it::

    models/<version>/
        manifest.json        how it was made (base model, data hash, config, versions, commit)
        labels.json          heads in ONNX output order, each with its ordered label ids
        thresholds.json      decision thresholds per head (optional entries)
        routing.json         department per category, priority rules, SLA hours per urgency
        metrics.json         evaluation figures
        tokenizer.json       fast tokenizer (HF tokenizers format)
        model.int8.onnx      dynamically quantized graph (served by default)
        model.onnx           fp32 graph (optional in the shipped copy)

``models/DEFAULT`` holds the name of the default version.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
LABELS_FILE = "labels.json"
THRESHOLDS_FILE = "thresholds.json"
ROUTING_FILE = "routing.json"
METRICS_FILE = "metrics.json"
TOKENIZER_FILE = "tokenizer.json"
ONNX_FP32_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
DEFAULT_POINTER_FILE = "DEFAULT"

INPUT_NAMES = ("input_ids", "attention_mask")
LOGITS_PREFIX = "logits_"

HEADS = ("dissatisfaction", "category", "urgency", "emotion", "escalation_risk")


@dataclass(frozen=True)
class HeadThreshold:
    """Predict the best of ``positive`` labels when their summed probability reaches ``threshold``."""

    positive: tuple[str, ...]
    threshold: float


@dataclass
class ModelVersion:
    """A loaded description of a version folder (no graph loaded)."""

    path: Path
    name: str
    heads: dict[str, list[str]]
    manifest: dict[str, Any]
    thresholds: dict[str, HeadThreshold] = field(default_factory=dict)
    routing: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def max_length(self) -> int:
        return int(self.manifest.get("max_length", 256))

    def onnx_path(self, precision: str = "int8") -> Path:
        files = {"int8": ONNX_INT8_FILE, "fp32": ONNX_FP32_FILE}
        if precision not in files:
            raise ValueError(f"precision must be one of {sorted(files)}, got {precision!r}")
        return self.path / files[precision]


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.write("\n")


def parse_thresholds(raw: dict[str, Any], heads: dict[str, list[str]]) -> dict[str, HeadThreshold]:
    parsed: dict[str, HeadThreshold] = {}
    for head, spec in raw.items():
        if head not in heads:
            raise ValueError(f"thresholds name unknown head {head!r}; heads are {list(heads)}")
        positive = tuple(spec["positive"])
        unknown = [label for label in positive if label not in heads[head]]
        if unknown:
            raise ValueError(f"thresholds for {head!r} name unknown labels {unknown}; allowed {heads[head]}")
        threshold = float(spec["threshold"])
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold for {head!r} must lie in (0, 1), got {threshold}")
        parsed[head] = HeadThreshold(positive=positive, threshold=threshold)
    return parsed


def load_model_version(path: str | Path) -> ModelVersion:
    """Reads a version folder's metadata; raises ``FileNotFoundError``/``ValueError`` naming what is wrong."""
    root = Path(path)
    for required in (MANIFEST_FILE, LABELS_FILE, TOKENIZER_FILE):
        if not (root / required).is_file():
            raise FileNotFoundError(f"model version {root} lacks {required}")
    labels = read_json(root / LABELS_FILE)
    heads = {h["name"]: list(h["labels"]) for h in labels["heads"]}
    if not heads:
        raise ValueError(f"{root / LABELS_FILE} defines no heads")
    manifest = read_json(root / MANIFEST_FILE)
    optional = {
        name: read_json(root / name) if (root / name).is_file() else {}
        for name in (THRESHOLDS_FILE, ROUTING_FILE, METRICS_FILE)
    }
    return ModelVersion(
        path=root,
        name=str(manifest.get("version", root.name)),
        heads=heads,
        manifest=manifest,
        thresholds=parse_thresholds(optional[THRESHOLDS_FILE], heads),
        routing=optional[ROUTING_FILE],
        metrics=optional[METRICS_FILE],
    )


def resolve_version_path(models_dir: str | Path, version: str | None = None) -> Path:
    """Finds a version folder: the one named, else the one ``models/DEFAULT`` points to."""
    root = Path(models_dir)
    if version:
        candidate = Path(version)
        if candidate.is_dir():
            return candidate
        candidate = root / version
        if candidate.is_dir():
            return candidate
        raise FileNotFoundError(f"model version {version!r} not found under {root}")
    pointer = root / DEFAULT_POINTER_FILE
    if not pointer.is_file():
        raise FileNotFoundError(
            f"{pointer} is missing (looked in {root.resolve()}): run from the repository root, "
            "point --models-dir (KESU_MODELS_DIR) at the models folder, name a model version, "
            "or write one into DEFAULT (kesu export --set-default)"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    if not (root / name).is_dir():
        raise FileNotFoundError(f"{pointer} names {name!r}, which is not a folder under {root}")
    return root / name
