"""The evaluation harness on the tiny model version: report contents, baselines, comparison gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval import baselines
from eval.compare import compare
from eval.evaluate import evaluate, resolve_data
from eval.report import head_report
from training.metrics import binary_report


def test_head_report_figures() -> None:
    labels = ["a", "b", "c"]
    gold = ["a", "a", "b", "c", None]
    pred = ["a", "b", "b", "c", "a"]
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [1, 0, 0]])
    r = head_report(gold, pred, probs, labels)
    assert r["n"] == 4 and r["accuracy"] == pytest.approx(0.75)
    assert r["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1.0) / 3)
    assert r["confusion_matrix"]["rows_gold_cols_pred"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert 0.0 <= r["ece"] <= 1.0


def test_binary_report_counts_any_dissatisfaction() -> None:
    r = binary_report(
        ["explicit", "implicit", "none", "none"],
        ["implicit", "none", "explicit", "none"],
        ("explicit", "implicit"),
    )
    assert (r["precision"], r["recall"]) == (0.5, 0.5)


def test_eval_writes_report_with_baselines(
    tiny_model_version: Path, tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    report = evaluate(tiny_model_version, "test", tmp_path / "r", corpus_dir=tiny_corpus_dir)
    written = json.loads((tmp_path / "r" / "report.json").read_text())
    assert written["headline"] == report["headline"]
    assert set(report["model_report"]["heads"]) == {
        "dissatisfaction",
        "category",
        "urgency",
        "emotion",
        "escalation_risk",
    }
    assert {"tfidf_logreg", "snownlp_sentiment"} <= set(report["baselines"])
    assert "dissatisfaction.macro_f1" in report["margins_over_baselines"]
    assert (tmp_path / "r" / "confusion_category.png").stat().st_size > 1000
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "| dissatisfaction.macro_f1 |" in markdown and "margin over best baseline" in markdown
    lead = min(report["margins_over_baselines"]["dissatisfaction.macro_f1"].values())
    assert f"{lead:+.3f} (" in markdown


def test_unknown_split_is_a_clear_error(tiny_corpus_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no split 'tset'"):
        resolve_data("tset", tiny_corpus_dir)


def test_compare_flags_regressions() -> None:
    a = {"headline": {"category.macro_f1": 0.80, "emotion.macro_f1": 0.70}}
    b = {"headline": {"category.macro_f1": 0.795, "emotion.macro_f1": 0.65}}
    rows, regressed = compare(a, b, max_drop=0.01)
    assert regressed and [r["regressed"] for r in rows] == [False, True]
    assert not compare(a, a, max_drop=0.0)[1]


def test_lexicon_baseline_votes_by_hits() -> None:
    lexicon = {"气死": "anger", "失望": "disappointment", "谢谢": "satisfaction"}
    assert baselines.lexicon_emotion(["真是气死我了，气死", "谢谢", "明天到吗"], lexicon) == [
        "anger",
        "satisfaction",
        "neutral",
    ]


def test_snownlp_baseline_never_says_explicit() -> None:
    out = baselines.snownlp_dissatisfaction(["质量太差了，垃圾", "非常好用，谢谢"])
    assert out == ["implicit", "none"]
