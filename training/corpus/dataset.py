"""The one loader the trainer and the evaluator share: corpus JSON Lines to a ``DatasetDict``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from service.cases import ModelInput, case_to_text

SPLITS = ("train", "dev", "test")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_round_robin(records: list[dict[str, Any]], paths: list[Path]) -> None:
    """Deals the records over the files: the k-th of n paths gets ``records[k::n]``."""
    for k, path in enumerate(paths):
        write_jsonl(path, records[k :: len(paths)])


def to_example(record: dict[str, Any], heads: list[str]) -> dict[str, Any]:
    """Flattens a record: the model input string plus one label column per head (None if unlabeled)."""
    model_input, is_dialogue = case_to_text(record)
    labels = record.get("labels") or {}
    return {
        "id": record["id"],
        "source": record.get("source", ""),
        "model_input": model_input,
        "is_dialogue": is_dialogue,
        **{head: labels.get(head) for head in heads},
    }


def load_split_file(path: Path, heads: list[str]) -> Dataset:
    return split_from_records(list(read_jsonl(path)), heads)


def split_from_records(records: list[dict[str, Any]], heads: list[str]) -> Dataset:
    """The corpus records as a split, in their order: what ``load_split_file`` gives for their file."""
    rows = [to_example(r, heads) for r in records]
    columns = ["id", "source", "model_input", "is_dialogue", *heads]
    return Dataset.from_dict({c: [r[c] for r in rows] for c in columns})


def model_inputs(split: Dataset) -> list[ModelInput]:
    """The split's ``(model input, is dialogue)`` pairs, as the predictor and encoder take them."""
    return list(zip(split["model_input"], split["is_dialogue"], strict=True))


def load_corpus(data_dir: str | Path, heads: list[str], splits: tuple[str, ...] = SPLITS) -> DatasetDict:
    """Loads ``<data_dir>/<split>.jsonl`` for each split into a ``DatasetDict``."""
    root = Path(data_dir)
    missing = [s for s in splits if not (root / f"{s}.jsonl").is_file()]
    if missing:
        raise FileNotFoundError(f"corpus folder {root} lacks {[f'{s}.jsonl' for s in missing]}")
    return DatasetDict({s: load_split_file(root / f"{s}.jsonl", heads) for s in splits})


def corpus_hash(data_dir: str | Path, splits: tuple[str, ...] = SPLITS) -> str:
    digest = hashlib.sha256()
    for split in splits:
        path = Path(data_dir) / f"{split}.jsonl"
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
