"""Helpers shared by the service tests (fixtures live in each test module; conftest.py is the lead's)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.model_version import LABELS_FILE


def make_settings(version: Path, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings serving ``version`` with a private feedback database."""
    values: dict[str, Any] = {
        "models_dir": version.parent,
        "model_version": str(version),
        "feedback_db": tmp_path / "feedback.db",
        "intra_op_threads": 1,
    }
    values.update(overrides)
    return Settings(**values)


def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"service not ready: {client.get('/readyz').json()}")


@contextmanager
def ready_client(settings: Settings, **client_kwargs: Any) -> Iterator[TestClient]:
    """A TestClient of a fresh app whose model has finished loading."""
    with TestClient(create_app(settings), **client_kwargs) as client:
        wait_ready(client)
        yield client


def heads_of(version: Path) -> dict[str, list[str]]:
    data = json.loads((version / LABELS_FILE).read_text(encoding="utf-8"))
    return {h["name"]: list(h["labels"]) for h in data["heads"]}


def assert_result_shape(result: dict[str, Any], heads: dict[str, list[str]]) -> None:
    """Checks a result against docs/API.md: every head with all its labels, scores summing to 1, routing."""
    assert isinstance(result["model_version"], str)
    assert set(result) == {"id", "model_version", "routing", *heads}
    for head, labels in heads.items():
        head_result = result[head]
        assert set(head_result["scores"]) == set(labels)
        assert abs(sum(head_result["scores"].values()) - 1.0) < 1e-6
        assert head_result["label"] in labels
        assert head_result["score"] == head_result["scores"][head_result["label"]]
    assert set(result["routing"]) == {"department", "priority", "response_sla_hours", "resolution_sla_hours"}
