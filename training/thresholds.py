"""Decision thresholds for the binary decisions, tuned on dev only where tuning holds out of sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from training.metrics import f1_at_thresholds

THRESHOLD_GRID = np.round(np.arange(0.2, 0.81, 0.05), 2)
PLAIN_THRESHOLD = 0.5
SPLIT_HALF_ROUNDS = 200
# Below this many positive dev cases a tuned threshold would follow a handful of cases.
MIN_POSITIVES = 20
BINARY_DECISIONS = {"escalation_risk": ("yes",), "dissatisfaction": ("explicit", "implicit")}


def stratified_halves(is_positive: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two random halves with the positive cases split evenly between them."""
    halves: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for side in (np.flatnonzero(is_positive), np.flatnonzero(~is_positive)):
        shuffled = rng.permutation(side)
        halves[0].append(shuffled[: len(shuffled) // 2])
        halves[1].append(shuffled[len(shuffled) // 2 :])
    return np.concatenate(halves[0]), np.concatenate(halves[1])


def tune_binary_threshold(positive_prob: np.ndarray, is_positive: np.ndarray) -> tuple[float, float]:
    """The dev threshold maximizing positive-side F1, if it beats 0.5 out of sample.

    Tuned on one half of dev and scored on the other, over ``SPLIT_HALF_ROUNDS`` random
    stratified splits, the tuned threshold must on average beat 0.5; otherwise (or with fewer
    than ``MIN_POSITIVES`` positive cases) 0.5 is kept. Returns the threshold and that
    average held-out F1 gain.
    """
    if is_positive.sum() < MIN_POSITIVES:
        return PLAIN_THRESHOLD, 0.0
    plain = int(np.flatnonzero(THRESHOLD_GRID == PLAIN_THRESHOLD)[0])
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(SPLIT_HALF_ROUNDS):
        tune, held_out = stratified_halves(is_positive, rng)
        tuned = int(np.argmax(f1_at_thresholds(positive_prob[tune], is_positive[tune], THRESHOLD_GRID)))
        scores = f1_at_thresholds(positive_prob[held_out], is_positive[held_out], THRESHOLD_GRID)
        gains.append(scores[tuned] - scores[plain])
    gain = float(np.mean(gains))
    if gain <= 0:
        return PLAIN_THRESHOLD, gain
    best = int(np.argmax(f1_at_thresholds(positive_prob, is_positive, THRESHOLD_GRID)))
    return float(THRESHOLD_GRID[best]), gain


def tune_thresholds(
    probs: dict[str, np.ndarray], gold: dict[str, list[str | None]], heads: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """``thresholds.json`` content: per binary decision, its positive labels and threshold."""
    thresholds = {}
    for head, positive in BINARY_DECISIONS.items():
        if head not in heads or not all(p in heads[head] for p in positive):
            continue
        labelled = np.array([g is not None for g in gold[head]])
        if not labelled.any():
            continue
        columns = [heads[head].index(p) for p in positive]
        positive_prob = probs[head][labelled][:, columns].sum(axis=1)
        is_positive = np.array([g in positive for g in gold[head]])[labelled]
        threshold, held_out_gain = tune_binary_threshold(positive_prob, is_positive)
        thresholds[head] = {
            "positive": list(positive),
            "threshold": threshold,
            "held_out_f1_gain_over_0.5": round(held_out_gain, 4),
        }
    return thresholds
