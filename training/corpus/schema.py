"""The label schema of LABELING.md as data, and validation of labeled records against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.cases import ROLES

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "label_schema.json"


def load_label_schema(path: Path = SCHEMA_PATH) -> dict[str, list[str]]:
    with path.open(encoding="utf-8") as f:
        schema: dict[str, list[str]] = json.load(f)
    return schema


def record_problems(
    record: dict[str, Any], schema: dict[str, list[str]], require_all_heads: bool
) -> list[str]:
    """Everything wrong with one corpus record, as readable messages (empty when valid)."""
    problems = []
    if not isinstance(record.get("id"), str) or not record["id"]:
        problems.append("missing 'id'")
    has_text = isinstance(record.get("text"), str) and bool(record["text"].strip())
    dialogue = record.get("dialogue")
    dialogue = dialogue if isinstance(dialogue, list) else []
    has_dialogue = len(dialogue) > 0
    if has_text == has_dialogue:
        problems.append("needs exactly one of a non-empty 'text' or 'dialogue'")
    if has_dialogue:
        for i, turn in enumerate(dialogue):
            if not isinstance(turn, dict) or turn.get("role") not in ROLES:
                problems.append(f"dialogue[{i}].role must be one of {list(ROLES)}")
            elif not isinstance(turn.get("text"), str) or not turn["text"].strip():
                problems.append(f"dialogue[{i}].text is empty")
    labels = record.get("labels")
    if not isinstance(labels, dict):
        return [*problems, "missing 'labels' object"]
    for head, value in labels.items():
        if head not in schema:
            problems.append(f"unknown head {head!r}; heads are {list(schema)}")
        elif value not in schema[head]:
            problems.append(f"labels.{head}={value!r} is not one of {schema[head]}")
    if require_all_heads:
        missing = [h for h in schema if h not in labels]
        if missing:
            problems.append(f"labels lack heads {missing}")
    return problems
