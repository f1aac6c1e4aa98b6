"""The committed corpus meets its requirements: run in CI on every change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from training.corpus.checks import (
    cohen_kappa,
    corpus_report,
    exact_duplicates,
    near_duplicate_pairs,
    requirement_failures,
)
from training.corpus.dataset import SPLITS, load_corpus, read_jsonl
from training.corpus.reserved import load_reserved
from training.corpus.schema import load_label_schema

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    splits = {s: list(read_jsonl(CORPUS / f"{s}.jsonl")) for s in SPLITS}
    return corpus_report(splits, load_label_schema(), load_reserved())


def test_no_reserved_utterance_slipped_in(report: dict[str, Any]) -> None:
    assert report["reserved_hits"] == []


def test_no_duplicates_or_leaks_across_splits(report: dict[str, Any]) -> None:
    assert report["exact_duplicates"] == []
    assert report["duplicate_ids"] == []
    assert report["near_duplicates_across_splits"] == []
    assert report["groups_straddling_splits"] == []


def test_every_record_is_valid_and_fully_labeled(report: dict[str, Any]) -> None:
    assert report["problems"] == {}


def test_size_and_label_coverage_requirements(report: dict[str, Any]) -> None:
    assert requirement_failures(report) == []


def test_loader_gives_all_splits() -> None:
    heads = load_label_schema()
    corpus = load_corpus(CORPUS, list(heads))
    assert set(corpus) == set(SPLITS)
    assert set(heads) <= set(corpus["train"].column_names)
    assert all(isinstance(t, str) and t for t in corpus["dev"]["model_input"])


def test_reserved_check_catches_a_reserved_turn() -> None:
    reserved = load_reserved()
    utterance = next(iter(reserved))
    record = {
        "id": "x",
        "source": "taobao_dev_dialogue",
        "labels": {},
        "dialogue": [{"role": "customer", "text": " ".join(utterance)}, {"role": "agent", "text": "好的"}],
    }
    report = corpus_report({"train": [record], "dev": [], "test": []}, load_label_schema(), reserved)
    assert report["reserved_hits"] == ["x"]


def test_duplicate_detectors() -> None:
    a = {"id": "a", "text": "快递五天了还没到，客服也不回消息"}
    b = {"id": "b", "text": "快递五天了还没到,客服也不回消息"}
    assert exact_duplicates([a, {**a, "id": "c"}]) == [("a", "c")]
    assert near_duplicate_pairs([a["text"], b["text"], "谢谢，很满意"])[0][:2] == (0, 1)


def test_cohen_kappa() -> None:
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == 1.0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)
