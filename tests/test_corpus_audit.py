"""The label audit: blind questions where a checkpoint disagrees, and corrections from clear answers only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from training.corpus.audit import KEY_FILE, audit_round_dir, corrections, disagreements, main, questions
from training.corpus.dataset import read_jsonl, write_jsonl

SCHEMA = {"category": ["logistics", "billing", "other"], "escalation_risk": ["yes", "no"]}
HEADS = ("category", "escalation_risk")
RECORDS = [
    {"id": f"c{n}", "text": f"第{n}个", "labels": {"category": "logistics", "escalation_risk": "no"}}
    for n in range(4)
]
# c0 agrees on both heads, c1 disagrees on category, c2 on escalation, c3 on both.
PROBS = {
    "category": np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6]]),
    "escalation_risk": np.array([[0.1, 0.9], [0.4, 0.6], [0.7, 0.3], [0.9, 0.1]]),
}
LABELS = {"category": np.zeros(4, dtype=int), "escalation_risk": np.ones(4, dtype=int)}
UNLABELED = -100  # training.train.IGNORE_INDEX


def test_questions_ask_only_the_disagreeing_heads_without_saying_which_label_is_the_corpus_one() -> None:
    flagged = disagreements(PROBS, LABELS, HEADS)
    assert flagged == [[], ["category"], ["escalation_risk"], ["category", "escalation_risk"]]
    asked, key = questions(RECORDS, PROBS, flagged, SCHEMA, seed=3)
    assert sorted(q["id"] for q in asked) == ["c1", "c2", "c3"]
    assert [k["id"] for k in key] == [q["id"] for q in asked]  # shuffled together
    by_id = {q["id"]: q for q in asked}
    assert "labels" not in by_id["c3"] and by_id["c3"]["text"] == "第3个"
    assert set(by_id["c3"]["question"]["category"].values()) == {"logistics", "other"}
    assert set(by_id["c2"]["question"]["escalation_risk"].values()) == {"yes", "no"}
    assert {k["id"]: k for k in key}["c3"] == {"id": "c3", "category": "logistics", "escalation_risk": "no"}
    assert questions(RECORDS, PROBS, flagged, SCHEMA, seed=3) == (asked, key)


def test_an_unlabeled_head_is_never_asked() -> None:
    labels = {"category": np.array([0, UNLABELED, 0, 0]), "escalation_risk": LABELS["escalation_risk"]}
    assert disagreements(PROBS, labels, HEADS)[1] == []


def answer(case_id: str, head: str, choice: str, clear: bool) -> dict[str, Any]:
    return {"id": case_id, "head": head, "choice": choice, "clear": clear, "rule": "14", "reason": "r"}


KEY = [{"id": "c1", "category": "logistics"}, {"id": "c3", "category": "logistics", "escalation_risk": "no"}]


def test_only_clear_answers_that_differ_from_the_corpus_label_become_corrections() -> None:
    decisions = [
        answer("c1", "category", "billing", clear=False),  # a judgement call keeps the label
        answer("c3", "category", "other", clear=True),
        answer("c3", "escalation_risk", "no", clear=True),  # confirms the label
    ]
    rows = corrections(KEY, decisions, SCHEMA, "audit round 1")
    assert rows == [
        {
            "id": "c3",
            "head": "category",
            "from": "logistics",
            "to": "other",
            "reason": "audit round 1: rule 14: r",
        }
    ]


@pytest.mark.parametrize(
    ("decisions", "message"),
    [
        ([answer("c1", "category", "billing", True)], "2 questions unanswered"),
        ([answer("c2", "category", "billing", True)], r"\('c2', 'category'\) answers no question"),
        ([answer("c1", "category", "refund", True)], "'refund' is not one of"),
        ([answer("c1", "category", "other", True)] * 2, "answered twice"),
        ([{"id": "c1", "head": "category", "choice": "other"}], "lacks clear, reason"),
        ([dict(answer("c1", "category", "other", True), clear="false")], "clear must be true or false"),
    ],
)
def test_bad_decisions_are_named(decisions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        corrections(KEY, decisions, SCHEMA, "audit round 1")


def test_a_round_drawn_from_a_checkpoint_applies_as_corrections(
    tiny_run: Path, tiny_corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = tmp_path / "ann"
    draw = ["draw", "--round", "1", "--checkpoint", str(tiny_run / "best"), "--batches", "2"]
    assert main([*draw, "--annotations", str(annotations), "--corpus", str(tiny_corpus_dir)]) == 0
    folder = audit_round_dir(annotations, 1)
    asked = [q for n in range(2) for q in read_jsonl(folder / f"cases_{n}.jsonl")]
    train_ids = {r["id"] for r in read_jsonl(tiny_corpus_dir / "train.jsonl")}
    assert asked and {q["id"] for q in asked} <= train_ids
    # Every question is answered clearly with candidate A: the corrections are those where A is not the label.
    key = {k["id"]: k for k in read_jsonl(folder / KEY_FILE)}
    choices = [(q["id"], h, pair["A"]) for q in asked for h, pair in q["question"].items()]
    write_jsonl(folder / "decisions_0.jsonl", [answer(i, h, a, clear=True) for i, h, a in choices])
    assert main(["apply", "--round", "1", "--annotations", str(annotations)]) == 0
    written = list(read_jsonl(annotations / "corrections" / "audit_round_001.jsonl"))
    assert [(r["id"], r["head"], r["to"]) for r in written] == [c for c in choices if c[2] != key[c[0]][c[1]]]
    # The corpus label stood as A in some questions and as B in others.
    assert 0 < len(written) < len(choices)
    # A round is never redrawn over its answers.
    assert main([*draw, "--annotations", str(annotations), "--corpus", str(tiny_corpus_dir)]) == 1
    assert "rounds are never redrawn" in capsys.readouterr().err


def test_apply_names_what_the_round_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", "--round", "2", "--annotations", str(tmp_path)]) == 1
    assert "draw round 2 first" in capsys.readouterr().err
    write_jsonl(audit_round_dir(tmp_path, 2) / KEY_FILE, [{"id": "c1"}])
    assert main(["apply", "--round", "2", "--annotations", str(tmp_path)]) == 1
    assert "has no decisions_*.jsonl" in capsys.readouterr().err
    (audit_round_dir(tmp_path, 2) / "decisions_0.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    assert main(["apply", "--round", "2", "--annotations", str(tmp_path)]) == 1
    assert "must be JSON objects" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--round", "0"], ["--round", "1", "--batches", "0"]])
def test_round_and_batch_counts_must_be_positive(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["apply", *option])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
