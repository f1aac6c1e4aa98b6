"""Classification metrics on label-id arrays, shared by the trainer's dev evaluation and ``kesu eval``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (gold, pred), 1)
    return matrix


def per_class_prf(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class from a confusion matrix (rows gold, columns predicted)."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def macro_f1(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the classes present in gold or predictions."""
    matrix = confusion_matrix(gold, pred, n_labels)
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    _, _, f1 = per_class_prf(matrix)
    return float(f1[present].mean()) if present.any() else 0.0


def f1_at_thresholds(
    positive_prob: np.ndarray, is_positive: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """F1 of the positive side when predicting positive at ``positive_prob >= t``, for each t."""
    predicted = positive_prob[None, :] >= thresholds[:, None]
    true_positives = (predicted & is_positive[None, :]).sum(axis=1)
    return 2 * true_positives / np.maximum(predicted.sum(axis=1) + is_positive.sum(), 1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def binary_report(gold: Sequence[str | None], pred: Sequence[str], positive: Sequence[str]) -> dict[str, Any]:
    """Precision/recall/F1 of 'any positive label' against the rest."""
    pairs = [(g in positive, p in positive) for g, p in zip(gold, pred, strict=True) if g is not None]
    tp = sum(g and p for g, p in pairs)
    fp = sum(p and not g for g, p in pairs)
    fn = sum(g and not p for g, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"positive": list(positive), "n": len(pairs), "precision": precision, "recall": recall, "f1": f1}
