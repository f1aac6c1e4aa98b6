"""Decision thresholds tuned on dev are kept only when they beat 0.5 on held-out halves."""

from __future__ import annotations

import numpy as np
import pytest

from training.export import PLAIN_THRESHOLD, THRESHOLD_GRID, f1_by_threshold, tune_binary_threshold


def test_f1_by_threshold_counts_the_positive_side() -> None:
    prob = np.array([0.9, 0.6, 0.4, 0.1])
    gold = np.array([True, False, True, False])
    # At 0.5: one true positive, one false positive, one miss.
    assert f1_by_threshold(prob, gold)[6] == pytest.approx(0.5)


def test_a_shifted_model_gets_a_tuned_threshold() -> None:
    rng = np.random.default_rng(1)
    gold = rng.random(600) < 0.4
    # Positives score about 0.35 and negatives about 0.1: 0.5 misses most positives.
    prob = np.clip(np.where(gold, 0.35, 0.1) + rng.normal(0, 0.05, 600), 0, 1)
    threshold, gain = tune_binary_threshold(prob, gold)
    assert 0.2 <= threshold <= 0.3
    assert gain > 0.3


def test_a_peak_that_does_not_hold_out_of_sample_is_not_kept() -> None:
    rng = np.random.default_rng(6)
    gold = rng.random(400) < 0.5
    prob = np.where(gold, rng.uniform(0.3, 1.0, 400), rng.uniform(0.0, 0.7, 400))
    # On the whole set 0.3 scores best, but tuned on halves it loses to 0.5 on the other halves.
    assert THRESHOLD_GRID[np.argmax(f1_by_threshold(prob, gold))] == pytest.approx(0.3)
    threshold, gain = tune_binary_threshold(prob, gold)
    assert threshold == PLAIN_THRESHOLD
    assert gain <= 0


def test_no_positive_case_keeps_the_plain_threshold() -> None:
    assert tune_binary_threshold(np.array([0.7, 0.2]), np.array([False, False])) == (PLAIN_THRESHOLD, 0.0)
