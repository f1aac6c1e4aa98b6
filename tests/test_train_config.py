from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from training.config import TrainConfig
from training.train import train


def test_defaults_validate() -> None:
    assert TrainConfig(base_model="x").class_weighting == "inverse_sqrt"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("class_weighting", "balanced", "class_weighting must be one of"),
        ("max_length", 4, "max_length must lie in"),
        ("batch_size", 0, "batch_size must be positive"),
        ("warmup_ratio", 1.5, "warmup_ratio"),
        ("num_layers", 0, "num_layers"),
        ("ema_decay", 1.0, "ema_decay must lie in"),
        ("layer_lr_decay", 0.0, "layer_lr_decay must lie in"),
        ("layer_lr_decay", 1.2, "layer_lr_decay must lie in"),
        ("head_loss_weights", "{category = 2.0}", "head_loss_weights must be dict"),
        ("head_loss_weights", {"category": "2"}, "head_loss_weights must be dict"),
        ("max_steps", 2.5, "max_steps must be int | None"),
        ("epochs", True, "epochs must be float"),
        ("teacher", 5, "teacher must be str | None"),
        ("freeze_embeddings", "yes", "freeze_embeddings must be bool"),
        ("epochs", math.inf, "epochs must be float"),
        ("learning_rate", math.nan, "learning_rate must be float"),
        ("head_loss_weights", {"category": math.nan}, "head_loss_weights must be dict"),
        ("threads", 0, "threads must be positive"),
        ("weight_decay", -0.1, "weight_decay must be non-negative"),
    ],
)
def test_invalid_values_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig.from_dict({"base_model": "x", field: value})


def test_whole_numbers_are_accepted_where_floats_are_expected() -> None:
    config = TrainConfig.from_dict({"base_model": "x", "epochs": 2, "head_loss_weights": {"category": 2}})
    assert config.epochs == 2 and config.head_loss_weights == {"category": 2}


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown training options"):
        TrainConfig.from_dict({"base_model": "x", "learning_rat": 1e-4})


def test_toml_and_json_round_trip(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('base_model = "m"\nepochs = 2.0\n[head_loss_weights]\nemotion = 0.5\n')
    config = TrainConfig.from_file(toml)
    assert config.epochs == 2.0 and config.head_loss_weights == {"emotion": 0.5}
    config.save(tmp_path)
    assert TrainConfig.from_dict(json.loads((tmp_path / "train_config.json").read_text())) == config


def test_loss_weights_must_name_heads(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = TrainConfig(
        base_model="x", data_dir=str(tmp_path), output_dir=str(run), head_loss_weights={"categroy": 2.0}
    )
    with pytest.raises(ValueError, match=r"unknown heads \['categroy'\]"):
        train(config)
    assert not run.exists(), "the check runs before the run folder is made"
