"""Decision thresholds tuned on dev are kept only when they beat 0.5 on held-out halves."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import f1_at_thresholds
from training.thresholds import MIN_POSITIVES, PLAIN_THRESHOLD, THRESHOLD_GRID, tune_binary_threshold


def test_f1_at_thresholds_counts_the_positive_side() -> None:
    prob = np.array([0.9, 0.6, 0.4, 0.1])
    gold = np.array([True, False, True, False])
    # At 0.5: one true positive, one false positive, one miss; at 0.3 both positives and one false alarm.
    assert f1_at_thresholds(prob, gold, np.array([0.5, 0.3])) == pytest.approx([0.5, 0.8])


def test_a_shifted_model_gets_a_tuned_threshold() -> None:
    rng = np.random.default_rng(1)
    gold = rng.random(600) < 0.4
    # Positives score about 0.35 and negatives about 0.1: 0.5 misses most positives.
    prob = np.clip(np.where(gold, 0.35, 0.1) + rng.normal(0, 0.05, 600), 0, 1)
    threshold, gain = tune_binary_threshold(prob, gold)
    assert 0.2 <= threshold <= 0.3
    assert gain > 0.3


def test_noise_peaks_away_from_the_best_threshold_are_mostly_not_kept() -> None:
    """Scores separate the classes at 0.5 and 30% of labels are flipped at random, so 0.5 is
    the best threshold in expectation and a dev peak elsewhere is noise."""
    plain_argmax_strays = rule_strays = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        gold = rng.random(400) < 0.5
        prob = np.where(gold, rng.uniform(0.5, 1.0, 400), rng.uniform(0.0, 0.5, 400))
        gold ^= rng.random(400) < 0.3
        plain_argmax = THRESHOLD_GRID[np.argmax(f1_at_thresholds(prob, gold, THRESHOLD_GRID))]
        plain_argmax_strays += plain_argmax != PLAIN_THRESHOLD
        rule_strays += tune_binary_threshold(prob, gold)[0] != PLAIN_THRESHOLD
    assert plain_argmax_strays >= 15
    assert rule_strays <= plain_argmax_strays / 2


def test_too_few_positives_keep_the_plain_threshold() -> None:
    prob = np.linspace(0, 1, 200)
    gold = np.zeros(200, dtype=bool)
    assert tune_binary_threshold(prob, gold) == (PLAIN_THRESHOLD, 0.0)
    gold[-(MIN_POSITIVES - 1) :] = True  # all positives score above 0.9: tuning would move to 0.8
    assert tune_binary_threshold(prob, gold) == (PLAIN_THRESHOLD, 0.0)
