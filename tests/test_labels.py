"""Thresholds for mean F2 (kit.labels): one global cut, a label's own cut only where it beats the
global one by more than the bar (pulled back toward it), exclusive groups decided once per row."""

from __future__ import annotations

import numpy as np
import pytest

from kit.errors import KitError
from kit.labels import predict_labels, tune_thresholds
from kit.metrics import mean_f2

WEATHER = ("clear", "cloudy", "haze", "partly_cloudy")
NAMES = ("agriculture", "clear", "cloudy", "haze", "partly_cloudy", "primary")


def _separable(n: int = 400, seed: int = 0):
    """Three labels, each perfectly separated by its own cut: (0.2, 0.25], (0.5, 0.6], (0.04, 0.05]."""
    rng = np.random.default_rng(seed)
    y = rng.random((n, 3)) < [0.5, 0.3, 0.2]
    p = np.empty((n, 3))
    p[:, 0] = np.where(y[:, 0], rng.uniform(0.25, 0.45, n), rng.uniform(0.0, 0.2, n))
    p[:, 1] = np.where(y[:, 1], rng.uniform(0.6, 0.9, n), rng.uniform(0.3, 0.5, n))
    p[:, 2] = np.where(y[:, 2], rng.uniform(0.05, 0.1, n), rng.uniform(0.0, 0.04, n))
    return y.astype(int), p


def test_own_cuts_are_pulled_halfway_toward_the_global_one():
    y, p = _separable()
    free = tune_thresholds(y, p, shrink=0.0, min_gain=0.0)
    half = tune_thresholds(y, p)  # shrink=0.5 by default
    assert free.global_threshold == half.global_threshold
    g = half.global_threshold
    for j in range(3):
        if half.thresholds[j] != g:  # a label that kept its own cut sits about halfway back
            assert half.thresholds[j] == pytest.approx(free.thresholds[j] + 0.5 * (g - free.thresholds[j]), abs=0.011)
    assert half.score == pytest.approx(mean_f2(y, p >= half.thresholds))
    assert free.score >= half.score >= half.global_score >= half.score_at_half
    everything = tune_thresholds(y, p, shrink=1.0)
    np.testing.assert_array_equal(everything.thresholds, g)


def test_a_label_whose_own_cut_helps_less_than_the_bar_stays_at_the_global_cut():
    n = 400
    rng = np.random.default_rng(3)
    y = np.zeros((n, 2), int)
    y[:, 0] = rng.random(n) < 0.5
    p = np.column_stack([np.where(y[:, 0], 0.7, 0.1), np.full(n, 0.01)])
    # label 1: one positive, at 0.1 (above every negative): its own cut gains one row's F2 from
    # 5/9 to 1 at most, 0.44 / 400 = 0.0011 mean F2, below the default bar of 1/400
    y[7, 1] = 1
    p[7, 1] = 0.1
    s = tune_thresholds(y, p)
    assert s.thresholds[1] == s.global_threshold
    # with no bar and no shrinkage the label takes its own cut, and that scores higher in-sample
    free = tune_thresholds(y, p, shrink=0.0, min_gain=0.0)
    assert 0.01 < free.thresholds[1] <= 0.1 and free.score > s.score


def test_exclusive_labels_are_one_choice_per_row_with_no_threshold_of_their_own():
    rng = np.random.default_rng(0)
    n = 300
    y = np.zeros((n, len(NAMES)), int)
    w = rng.choice(4, n, p=[0.6, 0.1, 0.1, 0.2])
    wcols = [NAMES.index(x) for x in WEATHER]
    y[np.arange(n), np.asarray(wcols)[w]] = 1
    y[:, 0] = rng.random(n) < 0.3
    y[:, 5] = rng.random(n) < 0.9
    p = np.clip(0.35 * y + 0.65 * rng.random(y.shape), 0, 1)
    s = tune_thresholds(y, p, labels=NAMES, exclusive=(WEATHER,))
    np.testing.assert_array_equal(s.thresholds[wcols], s.global_threshold)
    pred = predict_labels(p, s.thresholds, NAMES, (WEATHER,))
    assert (pred[:, wcols].sum(1) == 1).all()  # weather chosen once per row, whatever the cut
    assert s.score == pytest.approx(mean_f2(y, pred))
    assert s.score_at_half == pytest.approx(mean_f2(y, predict_labels(p, 0.5, NAMES, (WEATHER,))))
    assert s.score >= s.global_score >= s.score_at_half
    # the weather columns' thresholds change nothing: any value gives the same predictions
    np.testing.assert_array_equal(predict_labels(p, np.where(np.isin(np.arange(6), wcols), 0.01, s.thresholds),
                                                 NAMES, (WEATHER,)), pred)


def test_bad_arguments_are_clear_errors():
    y, p = _separable(50)
    with pytest.raises(KitError, match="exclusive label groups need the label names"):
        tune_thresholds(y, p, exclusive=(("a", "b"),))
    with pytest.raises(KitError, match="labels names 2 labels but the probabilities have 3 columns"):
        tune_thresholds(y, p, labels=("a", "b"))
    with pytest.raises(KitError, match="shrink must be between 0"):
        tune_thresholds(y, p, shrink=1.5)
