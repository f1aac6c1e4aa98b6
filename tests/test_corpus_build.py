"""Building the corpus: corrections are applied, published splits are never reshuffled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from training.corpus.build import build
from training.corpus.dataset import SPLITS, read_jsonl

LABELS = {
    "dissatisfaction": "implicit",
    "category": "logistics",
    "urgency": "low",
    "emotion": "disappointment",
    "escalation_risk": "no",
}
TOPICS = ["快递", "退款", "发票", "客服", "屏幕", "积分", "会员", "账单", "安装", "保修"]


def written(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{i:04d}",
            "source": "written",
            "industry": "telecom",
            "text": f"第{i}号{TOPICS[i % len(TOPICS)]}问题{prefix}{'还没解决' * (i % 3 + 1)}，编号{i * 7919}",
            "labels": dict(LABELS, dissatisfaction=["implicit", "none"][i % 2]),
        }
        for i in range(n)
    ]


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def splits_of(out: Path) -> dict[str, str]:
    return {r["id"]: s for s in SPLITS for r in read_jsonl(out / f"{s}.jsonl")}


@pytest.fixture()
def annotation_dir(tmp_path: Path) -> Path:
    (tmp_path / "ann" / "labels").mkdir(parents=True)
    write(tmp_path / "ann" / "written" / "a.jsonl", written(60, "w-a"))
    return tmp_path / "ann"


def test_new_cases_never_move_published_ones(annotation_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    before = splits_of(out)
    assert set(before.values()) == set(SPLITS)
    write(annotation_dir / "written" / "b.jsonl", written(60, "w-b"))
    build(annotation_dir, out)
    after = splits_of(out)
    assert {i: after[i] for i in before} == before
    assert len(after) == 120


def test_corrections_set_the_adjudicated_label(annotation_dir: Path, tmp_path: Path) -> None:
    write(
        annotation_dir / "corrections" / "review.jsonl",
        [{"id": "w-a-0002", "head": "category", "from": "logistics", "to": "billing", "reason": "test"}],
    )
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    labels = {r["id"]: r["labels"] for s in SPLITS for r in read_jsonl(out / f"{s}.jsonl")}
    assert labels["w-a-0002"]["category"] == "billing"
    assert labels["w-a-0003"]["category"] == "logistics"


def test_a_correction_that_does_not_match_the_corpus_is_refused(annotation_dir: Path, tmp_path: Path) -> None:
    write(
        annotation_dir / "corrections" / "review.jsonl",
        [{"id": "w-a-0002", "head": "category", "from": "other", "to": "billing", "reason": "test"}],
    )
    with pytest.raises(ValueError, match="w-a-0002 category is 'logistics'"):
        build(annotation_dir, tmp_path / "corpus")
