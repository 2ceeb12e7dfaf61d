"""kit.runs.cross_validate: the one fold engine, with scikit-learn's and kit's estimators."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression

from kit.errors import KitError
from kit.models import FitProgress, LightGBMClassifier, LightGBMRegressor
from kit.runs import cross_validate
from kit.validation.splits import KFold


def _data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, n)
    return X, y


def test_oof_and_test_predictions_match_fits_by_hand():
    X, y = _data()
    X_test = X[:5] + 1
    folds = list(KFold(3, random_state=0).split(X))
    est = LinearRegression()
    r = cross_validate(est, X, y, folds, X_test=X_test, scorer=lambda t, p, w: float(np.mean((t - p) ** 2)))
    assert not hasattr(est, "coef_")  # the estimator given is cloned, never fitted itself
    by_hand_test = []
    for k, (tr, va) in enumerate(folds):
        m = LinearRegression().fit(X[tr], y[tr])
        np.testing.assert_allclose(r.oof[va], m.predict(X[va]))
        assert (r.fold_of[va] == k).all()
        assert r.fold_scores[k] == pytest.approx(np.mean((y[va] - m.predict(X[va])) ** 2))
        by_hand_test.append(m.predict(X_test))
    np.testing.assert_allclose(r.test, np.mean(by_hand_test, axis=0))
    assert len(r.models) == 3 and len(r.seconds) == 3 and r.valid_rows.tolist() == list(range(len(y)))


def test_a_splitter_or_pairs_and_rows_no_fold_validates_stay_nan():
    X, y = _data()
    from_splitter = cross_validate(LinearRegression(), X, y, KFold(4, random_state=1))
    from_pairs = cross_validate(LinearRegression(), X, y, list(KFold(4, random_state=1).split(X)))
    np.testing.assert_array_equal(from_splitter.oof, from_pairs.oof)
    holdout = [(np.arange(0, 80), np.arange(100, 120))]
    r = cross_validate(LinearRegression(), X, y, holdout)
    assert np.isnan(r.oof[:100]).all() and not np.isnan(r.oof[100:]).any()
    assert (r.fold_of[:100] == -1).all() and r.valid_rows.tolist() == list(range(100, 120))
    with pytest.raises(KitError, match="got no folds"):
        cross_validate(LinearRegression(), X, y, [])


def test_classifiers_give_the_positive_class_probability():
    X, y = _data()
    yb = (y > 0).astype(int)
    folds = list(KFold(3, random_state=0).split(X))
    r = cross_validate(LogisticRegression(), X, yb, folds)
    tr, va = folds[0]
    p = LogisticRegression().fit(X[tr], yb[tr]).predict_proba(X[va])[:, 1]
    np.testing.assert_allclose(r.oof[va], p)
    ym = np.column_stack([yb, 1 - yb])
    rm = cross_validate(LightGBMClassifier(n_estimators=5, n_jobs=1), X, ym, folds, eval_set=False)
    assert rm.oof.shape == (len(y), 2) and ((rm.oof >= 0) & (rm.oof <= 1)).all()


class _Recorder(RegressorMixin, BaseEstimator):
    """Remembers the weights each fit got."""

    seen: list = []

    def fit(self, X, y, sample_weight=None):
        _Recorder.seen.append(None if sample_weight is None else np.asarray(sample_weight).copy())
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_weights_reach_fit_and_scorer_for_the_rows_of_each_fold():
    X, y = _data(30)
    w = np.arange(30, dtype=float)
    folds = list(KFold(3, random_state=0).split(X))
    _Recorder.seen = []
    got = []
    cross_validate(_Recorder(), X, y, folds, sample_weight=w, scorer=lambda t, p, ww: got.append(ww) or 0.0)
    for (tr, va), fit_w, score_w in zip(folds, _Recorder.seen, got):
        np.testing.assert_array_equal(fit_w, w[tr])
        np.testing.assert_array_equal(score_w, w[va])


def test_kit_models_get_the_validation_rows_and_callbacks():
    X, y = _data(300)
    frame = pl.DataFrame(X, schema=["a", "b", "c"])
    folds = list(KFold(2, random_state=0).split(frame))
    seen: dict[int, list[FitProgress]] = {0: [], 1: []}
    r = cross_validate(LightGBMRegressor(n_estimators=30, learning_rate=0.3, early_stopping_rounds=5, n_jobs=1),
                       frame, y, folds, callbacks=lambda k: [seen[k].append])
    # every round of each fold reported, with the validation loss early stopping watched
    for k in (0, 1):
        steps = [p.step for p in seen[k]]
        assert steps == list(range(1, len(steps) + 1)) and 1 <= len(steps) <= 30
        assert all(p.unit == "round" and p.total == 30 and p.valid_loss is not None for p in seen[k])
        assert r.models[k].best_iteration_ <= len(steps)
    no_eval = cross_validate(LightGBMRegressor(n_estimators=10, n_jobs=1), frame, y, folds, eval_set=False,
                             callbacks=lambda k: [seen[0].append])
    assert all(m.best_iteration_ == 10 for m in no_eval.models)


def test_stop_split_keeps_the_scored_rows_out_of_early_stopping():
    """A fold's early stopping looks at rows of its own training part: the last days of it for
    time folds (as many as the fold validates, at most a third), a seeded tenth otherwise."""
    import datetime as dt

    from kit.features import Prepared
    from kit.runs import Folds, stop_split

    days = np.repeat(np.arange(90), 2)
    dates = pl.Series("Date", [dt.date(2015, 1, 1) + dt.timedelta(days=int(d)) for d in days])
    p = Prepared(X=pl.DataFrame({"x": days}), y=days.astype(float), X_test=pl.DataFrame({"x": [1]}),
                 test_ids=pl.Series("id", [1]), dates=dates)
    tr, va = np.flatnonzero(days < 60), np.flatnonzero((days >= 60) & (days < 70))
    folds = Folds(((tr, va),), "time", "x", refit=True)
    fit, stop = stop_split(p, folds, 0)(0, tr)
    assert sorted(set(days[stop])) == list(range(50, 60))  # the last 10 training days
    assert set(days[fit]) == set(range(50)) and not np.intersect1d(stop, va).size
    random = Folds(((np.arange(100), np.arange(100, 180)),), "kfold", "x", refit=False)
    fit, stop = stop_split(p, random, 3)(0, np.arange(100))
    assert len(stop) == 10 and len(fit) == 90 and set(stop) <= set(range(100))
    again = stop_split(p, random, 3)(0, np.arange(100))[1]
    np.testing.assert_array_equal(stop, again)  # seeded


def test_refit_fits_the_chosen_round_on_the_whole_fold():
    """With `refit`, a fold's model picks its round on the stop rows, then trains exactly that
    many rounds on all of the fold's training rows: the model that scores the fold is the one
    the final refit builds, forecasting from the fold's last training day."""
    from kit.runs import refit_with_round

    X, y = _data(400)
    frame = pl.DataFrame(X, schema=["a", "b", "c"])
    tr, va = np.arange(300), np.arange(300, 400)
    fit_rows, stop_rows = tr[:240], tr[240:]
    est = LightGBMRegressor(n_estimators=400, learning_rate=0.3, early_stopping_rounds=5, n_jobs=1)
    r = cross_validate(est, frame, y, [(tr, va)], stop_split=lambda k, t: (fit_rows, stop_rows),
                       refit=refit_with_round)
    first = LightGBMRegressor(n_estimators=400, learning_rate=0.3, early_stopping_rounds=5, n_jobs=1).fit(
        frame[fit_rows], y[fit_rows], eval_set=(frame[stop_rows], y[stop_rows]))
    assert 1 <= first.best_iteration_ < 400
    by_hand = LightGBMRegressor(n_estimators=first.best_iteration_, learning_rate=0.3, early_stopping_rounds=None,
                                n_jobs=1).fit(frame[tr], y[tr])
    np.testing.assert_allclose(r.oof[va], by_hand.predict(frame[va]))
    assert r.models[0].best_iteration_ == first.best_iteration_ and r.models[0].early_stopping_rounds is None
    # one round per label (multilabel) cannot be one refit: the first fit is kept
    assert refit_with_round(type("M", (), {"best_iteration_": np.array([3, 4])})()) is None


def test_nested_rounds_score_each_fold_at_the_round_the_other_folds_chose():
    """With nested_rounds each fold's model trains on all its rows, watching its validation
    rows, and predicts them at the round the OTHER folds' curves choose (never its own best);
    `rounds` is the round all curves choose together."""
    from kit.runs import choose_round

    X, y = _data(900, seed=3)
    y = y + np.random.default_rng(4).normal(0, 1.5, len(y))  # noisy: the best round differs per fold
    frame = pl.DataFrame(X, schema=["a", "b", "c"])
    folds = [(np.setdiff1d(np.arange(900), np.arange(k * 300, (k + 1) * 300)), np.arange(k * 300, (k + 1) * 300))
             for k in range(3)]
    kw = dict(n_estimators=300, learning_rate=0.2, num_leaves=15, early_stopping_rounds=40, n_jobs=1)
    r = cross_validate(LightGBMRegressor(**kw), frame, y, folds, X_test=frame[:7], nested_rounds=True,
                       scorer=lambda t, p, w=None: float(np.sqrt(np.mean((t - p) ** 2))))
    by_hand = [LightGBMRegressor(**kw).fit(frame[tr], y[tr], eval_set=(frame[va], y[va])) for tr, va in folds]
    curves = [m.curves_[0] for m in by_hand]
    for k, (tr, va) in enumerate(folds):
        want = choose_round([c for j, c in enumerate(curves) if j != k])
        assert r.fold_rounds[k] == (want,)
        assert len(curves[k]) == by_hand[k].boosters_[0].current_iteration()  # every tree kept, past the best
        by_hand[k].set_rounds([want])
        np.testing.assert_allclose(r.oof[va], by_hand[k].predict(frame[va]))
        assert r.fold_scores[k] == pytest.approx(float(np.sqrt(np.mean((y[va] - r.oof[va]) ** 2))))
    assert r.rounds == (choose_round(curves),)
    np.testing.assert_allclose(r.test, np.mean([m.predict(frame[:7]) for m in by_hand], axis=0))
    own = [int(np.argmin(c)) + 1 for c in curves]
    assert [fr[0] for fr in r.fold_rounds] != own  # the folds' own best rounds are not what scored them


def test_choose_round_weighs_folds_by_their_own_scale_and_cuts_to_the_shortest():
    from kit.runs import choose_round

    easy, hard = np.array([1.0, 0.5, 0.4, 0.45]), np.array([10.0, 9.0, 9.5])
    # raw means would follow the hard fold (round 2); relative to each fold's best: 2.5, 1.25, 1.03
    assert choose_round([easy, hard]) == 3
    assert choose_round([np.array([2.0, 1.0])]) == 2


def test_refit_rounds_scale_the_chosen_round_by_rows():
    from kit.runs import Folds, refit_rounds
    from kit.runs.cv import CVResult

    folds = Folds(((np.arange(80), np.arange(80, 90)), (np.arange(120), np.arange(120, 130))), "time", "x", refit=True)
    cv = CVResult(np.zeros(130), np.zeros(130, np.int64), (), rounds=(200,))
    assert refit_rounds(cv, folds, 150) == 300  # 200 x 150 / mean(80, 120)
    per_label = CVResult(np.zeros(130), np.zeros(130, np.int64), (), rounds=(200, 100))
    assert refit_rounds(per_label, folds, 150) is None
