"""Per-head quality figures from gold labels and predicted probabilities, as JSON and Markdown."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from training.metrics import (
    binary_report,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_class_prf,
)

DISSATISFIED = ("explicit", "implicit")


def head_report(
    gold: Sequence[str | None], pred: Sequence[str], probs: np.ndarray | None, labels: list[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R/F1, confusion matrix and (with probabilities) ECE."""
    labelled = [(i, g) for i, g in enumerate(gold) if g is not None]
    keep = [i for i, _ in labelled]
    index = {label: i for i, label in enumerate(labels)}
    g = np.array([index[label] for _, label in labelled], dtype=np.int64)
    p = np.array([index[pred[i]] for i in keep], dtype=np.int64)
    matrix = confusion_matrix(g, p, len(labels))
    precision, recall, f1 = per_class_prf(matrix)
    report: dict[str, Any] = {
        "n": len(keep),
        "accuracy": float((g == p).mean()) if len(keep) else 0.0,
        "macro_f1": macro_f1(g, p, len(labels)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(matrix[i].sum()),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {"labels": labels, "rows_gold_cols_pred": matrix.tolist()},
    }
    if probs is not None:
        chosen = probs[keep][np.arange(len(keep)), p]
        report["ece"] = expected_calibration_error(chosen, (g == p).astype(float))
        report["reliability"] = reliability_bins(chosen, (g == p).astype(float))
    return report


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            rows.append(
                {
                    "lo": float(lo),
                    "hi": float(hi),
                    "n": int(in_bin.sum()),
                    "confidence": float(confidence[in_bin].mean()),
                    "accuracy": float(correct[in_bin].mean()),
                }
            )
    return rows


def model_report(
    heads: dict[str, list[str]],
    gold: dict[str, list[str | None]],
    pred: dict[str, list[str]],
    probs: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    """The report of one system on one split: every head, plus the binary views the targets use."""
    report: dict[str, Any] = {
        "heads": {
            h: head_report(gold[h], pred[h], probs[h] if probs else None, labels)
            for h, labels in heads.items()
            if h in pred
        }
    }
    if "dissatisfaction" in pred:
        report["dissatisfaction_binary"] = binary_report(
            gold["dissatisfaction"], pred["dissatisfaction"], DISSATISFIED
        )
    if "escalation_risk" in pred:
        report["escalation_yes"] = binary_report(gold["escalation_risk"], pred["escalation_risk"], ("yes",))
    return report


def headline(report: dict[str, Any]) -> dict[str, float]:
    """The figures compared across systems and versions: macro-F1 per head and the binary F1s."""
    figures = {f"{h}.macro_f1": r["macro_f1"] for h, r in report["heads"].items()}
    for key in ("dissatisfaction_binary", "escalation_yes"):
        if key in report:
            figures[f"{key}.f1"] = report[key]["f1"]
    return figures
