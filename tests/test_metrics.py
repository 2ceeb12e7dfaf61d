"""Metrics against hand-computed values and their edge cases."""

import math

import numpy as np
import pytest

from kit.metrics import METRICS, mean_f2, normalized_gini, nwrmsle, rmsle, rmspe


def test_rmsle_by_hand():
    # log1p(3)-log1p(1) = log 2 ; log1p(0)-log1p(0) = 0  -> sqrt((log2^2 + 0)/2)
    assert rmsle([1, 0], [3, 0]) == pytest.approx(math.log(2) / math.sqrt(2))


def test_rmsle_perfect_and_negative():
    assert rmsle([5.0, 10.0], [5.0, 10.0]) == 0.0
    with pytest.raises(ValueError, match="negative predictions"):
        rmsle([1.0], [-0.5])


def test_rmspe_ignores_zero_truth():
    # rows: (100,110) -> 0.1 ; (200,150) -> 0.25 ; (0, 50) ignored
    want = math.sqrt((0.1**2 + 0.25**2) / 2)
    assert rmspe([100, 200, 0], [110, 150, 50]) == pytest.approx(want)


def test_rmspe_all_zero_truth():
    with pytest.raises(ValueError, match="at least one row whose true value is not 0"):
        rmspe([0, 0], [1, 2])


def test_gini_by_hand():
    # Kaggle's reference on y=[1,0,0,1], p=[0.9,0.1,0.8,0.3]:
    # order by p desc: y = 1,0,1,0 ; cumsum/2 = .5,.5,1,1 -> sum 3 ; 3/4 - 5/8 = 0.125
    # perfect order: 1,1,0,0 -> .5,1,1,1 = 3.5 ; 3.5/4 - 5/8 = 0.25 ; normalized 0.5
    assert normalized_gini([1, 0, 0, 1], [0.9, 0.1, 0.8, 0.3]) == pytest.approx(0.5)
    # equals 2*AUC-1 without ties: AUC here is 3/4
    assert normalized_gini([1, 0, 0, 1], [0.9, 0.1, 0.8, 0.3]) == pytest.approx(2 * 0.75 - 1)


def test_gini_perfect_reversed_constant():
    y = np.array([0, 1, 0, 0, 1])
    assert normalized_gini(y, y) == pytest.approx(1.0)
    assert normalized_gini(y, -y) == pytest.approx(-1.0)
    # only the order matters
    assert normalized_gini(y, y * 100 + 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one positive"):
        normalized_gini([0, 0], [0.1, 0.2])


def test_nwrmsle_weights_by_hand():
    # errors in log space: log 2 (weight 1.25) and 0 (weight 1)
    want = math.sqrt(1.25 * math.log(2) ** 2 / 2.25)
    assert nwrmsle([1, 2], [3, 2], [1.25, 1.0]) == pytest.approx(want)
    # unit weights reduce to RMSLE
    assert nwrmsle([1, 2], [3, 2]) == pytest.approx(rmsle([1, 2], [3, 2]))


def test_nwrmsle_negative_truth_scored_as_zero():
    assert nwrmsle([-3.0], [0.0]) == 0.0


def test_mean_f2_by_hand():
    t = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    p = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    # row 1: tp=1 fp=1 fn=1 -> 5/(5+4+1)=0.5 ; row 2: empty/empty -> 1 ; row 3: tp=0 -> 0
    assert mean_f2(t, p) == pytest.approx((0.5 + 1 + 0) / 3)


def test_mean_f2_recall_weighs_more():
    t = np.array([[1, 1, 0, 0]])
    over = np.array([[1, 1, 1, 1]])   # p=.5 r=1 -> 5*.5/(4*.5+1)=0.8333
    under = np.array([[1, 0, 0, 0]])  # p=1 r=.5 -> 5*.5/(4+.5)=0.5556
    assert mean_f2(t, over) == pytest.approx(5 / 6)
    assert mean_f2(t, under) == pytest.approx(2.5 / 4.5)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_shape_mismatch_and_nan(name):
    m = METRICS[name]
    if name == "mean_f2":
        with pytest.raises(ValueError, match="label matrices"):
            m(np.ones((2, 3)), np.ones((3, 3)))
        return
    with pytest.raises(ValueError, match="shape"):
        m([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        m([1.0, 2.0], [1.0, float("nan")])


def test_direction():
    assert METRICS["gini"].better(0.3, 0.2)
    assert METRICS["rmsle"].better(0.2, 0.3)
