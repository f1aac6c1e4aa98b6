"""Training arguments: a dataclass validated on load and saved into every checkpoint and model version."""

from __future__ import annotations

import json
import math
import tomllib
import types
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

CLASS_WEIGHTING = ("none", "inverse_sqrt", "inverse")
CONFIG_FILE = "train_config.json"


def matches_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as TOML, JSON or ``--set`` gives it) fits a field's type hint."""
    if isinstance(hint, types.UnionType):
        return any(matches_type(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if get_origin(hint) is dict:
        key_hint, value_hint = get_args(hint)
        return isinstance(value, dict) and all(
            matches_type(k, key_hint) and matches_type(v, value_hint) for k, v in value.items()
        )
    # bool is an int in Python, but `epochs = true` is a mistake, not a number.
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    # JSON and TOML both spell NaN and infinity, which no range check below would catch.
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, hint)


@dataclass
class TrainConfig:
    """What ``kesu train`` does; every field can be set in a TOML or JSON file.

    Attributes:
        base_model: a transformers model folder (``kesu base-model`` writes one) or a hub id.
        data_dir: corpus folder with ``train/dev/test.jsonl`` (see ``training.corpus.dataset``).
        output_dir: run folder; the best checkpoint goes to ``<output_dir>/best``.
        num_layers: keep only the base model's first layers (a shallower student).
        teacher: a model version folder; its fp32 probabilities on the train split become soft
            targets, mixed with the gold loss by ``distill_weight`` at ``distill_temperature``.
        ema_decay: when set, an exponential moving average of the weights is kept with this
            decay and competes with the live weights for the best dev checkpoint.
        layer_lr_decay: layer-wise learning-rate decay; the top encoder layer trains at
            ``learning_rate``, each layer below at this factor times the one above, and the
            embeddings one step below the bottom layer. 1.0 trains every layer at ``learning_rate``.
    """

    base_model: str
    data_dir: str = "data/corpus"
    output_dir: str = "runs/default"
    max_length: int = 128
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    epochs: float = 3.0
    max_steps: int | None = None
    warmup_ratio: float = 0.06
    dropout: float = 0.1
    seed: int = 42
    eval_every_steps: int = 200
    class_weighting: str = "inverse_sqrt"
    head_loss_weights: dict[str, float] = field(default_factory=dict)
    num_layers: int | None = None
    freeze_embeddings: bool = False
    teacher: str | None = None
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    threads: int | None = None
    ema_decay: float | None = None
    layer_lr_decay: float = 1.0

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if not matches_type(value, hints[f.name]):
                raise ValueError(f"{f.name} must be {f.type}, got {value!r}")
        if self.class_weighting not in CLASS_WEIGHTING:
            raise ValueError(
                f"class_weighting must be one of {list(CLASS_WEIGHTING)}, got {self.class_weighting!r}"
            )
        positive = {
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "learning_rate": self.learning_rate,
            "head_learning_rate": self.head_learning_rate,
            "epochs": self.epochs,
            "eval_every_steps": self.eval_every_steps,
            "distill_temperature": self.distill_temperature,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        optional_positive = {
            "max_steps": self.max_steps,
            "threads": self.threads,
            "num_layers": self.num_layers,
        }
        for name, optional in optional_positive.items():
            if optional is not None and optional <= 0:
                raise ValueError(f"{name} must be positive when set, got {optional}")
        if not 8 <= self.max_length <= 512:
            raise ValueError(f"max_length must lie in [8, 512], got {self.max_length}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must lie in [0, 1], got {self.distill_weight}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1) when set, got {self.ema_decay}")
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must lie in (0, 1], got {self.layer_lr_decay}")
        if any(w < 0 for w in self.head_loss_weights.values()):
            raise ValueError(f"head_loss_weights must be non-negative, got {self.head_loss_weights}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training options {unknown}; allowed: {sorted(known)}")
        if "base_model" not in data:
            raise ValueError("the training config must set 'base_model'")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config {path} not found")
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise ValueError(f"training config must be .toml or .json, got {path.name}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
