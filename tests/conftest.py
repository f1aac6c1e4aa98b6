"""Shared fixtures: a tiny model version built through the real pipeline (base → train → export)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_model import CORPUS_DIR, build_tiny_base

TINY_VERSION = "tiny-test"


@pytest.fixture(scope="session")
def tiny_corpus_dir() -> Path:
    return CORPUS_DIR


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trains the tiny model for a few steps; returns the run folder (``best/`` inside)."""
    from training.config import TrainConfig
    from training.train import train

    root = tmp_path_factory.mktemp("tiny")
    base = build_tiny_base(root / "base")
    config = TrainConfig(
        base_model=str(base),
        data_dir=str(CORPUS_DIR),
        output_dir=str(root / "run"),
        max_length=64,
        batch_size=4,
        max_steps=6,
        eval_every_steps=3,
        learning_rate=1e-3,
        seed=7,
    )
    train(config)
    return root / "run"


@pytest.fixture(scope="session")
def tiny_models_dir(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder whose DEFAULT is the exported tiny version."""
    from training.export import export_version

    models_dir = tmp_path_factory.mktemp("models")
    export_version(
        tiny_run / "best",
        models_dir,
        TINY_VERSION,
        data_dir=CORPUS_DIR,
        set_default=True,
        min_int8_agreement=0.5,
    )
    return models_dir


@pytest.fixture(scope="session")
def tiny_model_version(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / TINY_VERSION
