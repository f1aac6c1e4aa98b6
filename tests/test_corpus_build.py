"""Building the corpus: corrections are applied, published splits are never reshuffled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from training.corpus.build import build
from training.corpus.dataset import SPLITS, read_jsonl
from training.corpus.double import agreement, draw_later_round
from training.corpus.double import main as double_main

LABELS = {
    "dissatisfaction": "implicit",
    "category": "logistics",
    "urgency": "low",
    "emotion": "disappointment",
    "escalation_risk": "no",
}
# Distinct texts: no two share a 6+ character turn or come near the duplicate threshold.
SUBJECTS = ["快递", "退款", "发票", "客服", "屏幕", "积分", "会员", "账单", "安装", "保修", "电池", "耳机"]
PROBLEMS = ["一直没人处理", "说好的没兑现", "质量实在太差", "等了整整一周", "换了两次还坏", "扣费莫名其妙"]


def written(n: int, prefix: str, offset: int = 0) -> list[dict[str, Any]]:
    cases = []
    for i in range(n):
        k = i + offset
        subject, problem = SUBJECTS[k % len(SUBJECTS)], PROBLEMS[(k // len(SUBJECTS)) % len(PROBLEMS)]
        cases.append(
            {
                "id": f"{prefix}-{i:04d}",
                "source": "written",
                "industry": "telecom",
                "text": f"{subject}{problem}，订单{k * 7919 + 104729}，第{k}次找你们",
                "labels": dict(LABELS, dissatisfaction=["implicit", "none"][k % 2]),
            }
        )
    return cases


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
    write(annotation_dir / "written" / "b.jsonl", written(60, "w-b", offset=60))
    build(annotation_dir, out)
    after = splits_of(out)
    assert {i: after[i] for i in before} == before
    new_splits = {after[i] for i in after if i.startswith("w-b")}
    assert new_splits == set(SPLITS), "new groups are split afresh, into every split"
    reshuffled = tmp_path / "reshuffled"
    build(annotation_dir, reshuffled, reshuffle=True)
    assert {i: splits_of(reshuffled)[i] for i in before} != before, "without the published splits they move"


def test_a_new_case_tying_two_splits_together_is_dropped(annotation_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    published = splits_of(out)
    texts = {r["id"]: r["text"] for r in written(60, "w-a")}
    in_train = next(i for i, s in published.items() if s == "train")
    in_test = next(i for i, s in published.items() if s == "test")
    bridge = {
        "id": "w-c-0000",
        "source": "written",
        "industry": "telecom",
        "dialogue": [
            {"role": "customer", "text": texts[in_train]},
            {"role": "agent", "text": "抱歉，马上处理"},
            {"role": "customer", "text": texts[in_test]},
        ],
        "labels": LABELS,
    }
    write(annotation_dir / "written" / "c.jsonl", [bridge])
    build(annotation_dir, out)
    assert "w-c-0000" not in splits_of(out)
    assert splits_of(out) == published


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


def test_audit_corrections_apply_after_the_others(annotation_dir: Path, tmp_path: Path) -> None:
    # The audit read the label the relabel file set, so it must run after it despite sorting first by name.
    relabel = {"id": "w-a-0002", "head": "category", "from": "logistics", "to": "billing", "reason": "test"}
    write(annotation_dir / "corrections" / "relabel_a.jsonl", [relabel])
    write(
        annotation_dir / "corrections" / "audit_round_001.jsonl",
        [dict(relabel, **{"from": "billing", "to": "other"})],
    )
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    labels = {r["id"]: r["labels"] for s in SPLITS for r in read_jsonl(out / f"{s}.jsonl")}
    assert labels["w-a-0002"]["category"] == "other"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("other", "billing", "w-a-0002 category is 'logistics'"),  # the corpus label is not the recorded one
        ("logistics", "shipping", "'category'='shipping' is not in the label schema"),
    ],
)
def test_a_wrong_correction_is_refused(
    annotation_dir: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    write(
        annotation_dir / "corrections" / "review.jsonl",
        [{"id": "w-a-0002", "head": "category", "from": old, "to": new, "reason": "test"}],
    )
    with pytest.raises(ValueError, match=message):
        build(annotation_dir, tmp_path / "corpus")


def test_a_later_double_round_is_blind_fresh_and_scored_against_the_corpus(
    annotation_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    every_id = sorted(splits_of(out))
    write(annotation_dir / "double" / "pool_0.jsonl", [{"id": i, "text": "x"} for i in every_id[:50]])
    paths = draw_later_round(annotation_dir, out, 2, size=len(every_id) - 50)
    drawn = [row for path in paths for row in read_jsonl(path)]
    assert sorted(row["id"] for row in drawn) == every_id[50:]
    assert all("labels" not in row for row in drawn)
    with pytest.raises(ValueError, match="never redrawn"):
        draw_later_round(annotation_dir, out, 2, size=1)
    with pytest.raises(ValueError, match="never read in a round"):
        draw_later_round(annotation_dir, out, 3, size=1)
    with pytest.raises(ValueError, match="missing \\[3\\]"):
        draw_later_round(annotation_dir, out, 4, size=1)

    corpus = {r["id"]: r["labels"] for s in SPLITS for r in read_jsonl(out / f"{s}.jsonl")}
    second = [{"id": row["id"], **corpus[row["id"]]} for row in drawn]
    second[0]["urgency"] = "high"
    second[1]["dissatisfaction"] = (
        "none" if corpus[second[1]["id"]]["dissatisfaction"] != "none" else "implicit"
    )
    write(paths[0].parent / "labels_0.jsonl", second)
    result = agreement(annotation_dir, out, round_number=2)
    assert result["n"] == 10 and result["raw_agreement"]["urgency"] == 0.9
    assert result["raw_agreement"]["category"] == 1.0 == result["macro_f1"]["category"]
    assert result["macro_f1"]["urgency"] < 1.0 and result["dissatisfaction_binary_f1"] < 1.0
    assert result["disagreements"][0]["first_vs_second"] == {"urgency": ["low", "high"]}


def test_second_labels_outside_the_schema_are_named(annotation_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    build(annotation_dir, out)
    case_id = next(iter(splits_of(out)))
    write(annotation_dir / "double" / "round_2" / "pool_0.jsonl", [{"id": case_id, "text": "x"}])
    with pytest.raises(ValueError, match="no labels_"):
        agreement(annotation_dir, out, round_number=2)
    labels_file = annotation_dir / "double" / "round_2" / "labels_0.jsonl"
    write(labels_file, [{"id": case_id, **LABELS, "urgency": "asap"}])
    with pytest.raises(ValueError, match="urgency='asap'; allowed"):
        agreement(annotation_dir, out, round_number=2)
    write(labels_file, [{"id": "nope", **LABELS}])
    with pytest.raises(SystemExit) as exit_info:
        double_main(["agree", "--round", "2", "--annotations", str(annotation_dir), "--corpus", str(out)])
    assert exit_info.value.code == 2
