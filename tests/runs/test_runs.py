"""kit.runs: shared folds, run folders, blending and submissions, on hand-built Prepared data."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.features import Prepared
from kit.metrics import normalized_gini, rmspe
from kit.runs import blend_runs, ensemble_selection, load_folds, make_folds, ranks, read_folds, read_run, train
from kit.spec import get
from kit.submission import submission_frame

FAST_LGBM = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 15, "n_jobs": 1}


def _rossmann_like(n_days: int = 240, stores: int = 6, seed: int = 0) -> Prepared:
    """Daily sales of a few stores: weekday and store effects, log target, a date per row."""
    rng = np.random.default_rng(seed)
    days = np.repeat(np.arange(n_days), stores)
    store = np.tile(np.arange(stores), n_days)
    dates = pl.Series("Date", [dt.date(2015, 1, 1) + dt.timedelta(days=int(d)) for d in days])
    dow = (days % 7).astype(np.int64)
    sales = 1000 * (1 + store) * (1 + 0.3 * (dow == 0)) * np.exp(rng.normal(0, 0.05, len(days)))
    X = pl.DataFrame({"store": store, "dow": dow, "noise": rng.normal(size=len(days))})
    test_days = np.repeat(np.arange(n_days, n_days + 7), stores)
    X_test = pl.DataFrame({"store": np.tile(np.arange(stores), 7), "dow": (test_days % 7).astype(np.int64),
                           "noise": rng.normal(size=len(test_days))})
    return Prepared(X=X, y=np.log1p(sales), X_test=X_test, test_ids=pl.Series("Id", np.arange(1, len(test_days) + 1)),
                    cat_features=("store",), target_transform="log1p", dates=dates)


def _binary(n: int = 600, seed: int = 0) -> Prepared:
    rng = np.random.default_rng(seed)
    X = pl.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"].to_numpy() + 0.5 * rng.normal(size=n) > 0.8).astype(np.int64)
    X_test = pl.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    return Prepared(X=X, y=y, X_test=X_test, test_ids=pl.Series("id", np.arange(50)))


# -- folds --------------------------------------------------------------------------------------

def test_time_folds_are_walk_forward_windows_as_long_as_the_data_allows():
    comp = get("rossmann")  # 48-day horizon in the spec
    p = _rossmann_like(n_days=200)
    folds = make_folds(comp, p)
    assert len(folds) == 3 and folds.refit and folds.scheme == "walk_forward (3x48 days, gap 0)"
    dates = p.dates.to_numpy()
    start = np.datetime64(dt.date(2015, 1, 1) + dt.timedelta(days=200 - 3 * 48))
    for k, (tr, va) in enumerate(folds.splits):
        assert dates[va].min() == start + np.timedelta64(48 * k, "D")
        assert len(va) == 48 * 6 and dates[tr].max() < dates[va].min()
    # 120 days hold two 48-day windows after some training days, not three: said in the notes
    short = make_folds(comp, _rossmann_like(n_days=120))
    assert len(short) == 2 and "2 window(s) of 48 days (asked for 3 of 48)" in short.notes[0]
    # too short for even one 48-day window: one window of half the data
    tiny = make_folds(comp, _rossmann_like(n_days=40))
    assert len(tiny) == 1 and tiny.scheme == "time_holdout (1x20 days, gap 0)"


def test_the_plan_follows_the_test_files_dates(tiny_twin):
    from kit.runs import ValidationPlan, plan_validation

    comp = get("rossmann")
    plan = plan_validation(comp, tiny_twin("rossmann"))
    assert (plan.horizon_days, plan.gap_days) == (48, 0) and "the test spans 48 days" in plan.notes[0]
    over = plan_validation(comp, tiny_twin("rossmann"), horizon=20, gap=3, n_folds=2)
    assert (over.horizon_days, over.gap_days, over.n_folds) == (20, 3, 2)
    with pytest.raises(KitError, match="--gap must be at least 0, got -1"):
        plan_validation(comp, tiny_twin("rossmann"), gap=-1)
    folds = make_folds(comp, _rossmann_like(n_days=200), plan=ValidationPlan(20, 3, 2))
    dates = _rossmann_like(n_days=200).dates.to_numpy()
    assert len(folds) == 2
    for tr, va in folds.splits:  # 20-day windows, 3 days left out before each
        assert (dates[va].max() - dates[va].min()).astype(int) == 19
        assert (dates[va].min() - dates[tr].max()).astype(int) == 4
    assert plan_validation(get("porto_seguro"), tiny_twin("porto_seguro")).horizon_days is None


def test_folds_are_saved_once_and_recomputed_when_the_data_changes(tmp_path):
    comp = get("porto_seguro")
    p = _binary()
    first = load_folds(comp, p, tmp_path)
    assert len(first) == 5 and (tmp_path / "folds.parquet").exists()
    saved = read_folds(tmp_path)
    assert saved.fingerprint == first.fingerprint
    for (t1, v1), (t2, v2) in zip(first.splits, saved.splits):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(v1, v2)
    # every row validated exactly once, class balance kept in each fold
    all_valid = np.concatenate([v for _, v in first.splits])
    assert np.array_equal(np.sort(all_valid), np.arange(p.n_rows))
    rates = [p.y[v].mean() for _, v in first.splits]
    assert max(rates) - min(rates) < 0.02
    other = load_folds(comp, _binary(seed=1), tmp_path)
    assert other.fingerprint != first.fingerprint
    assert read_folds(tmp_path).fingerprint == other.fingerprint


def test_time_scheme_without_dates_is_a_clear_error():
    p = _rossmann_like()
    no_dates = Prepared(X=p.X, y=p.y, X_test=p.X_test, test_ids=p.test_ids, target_transform="log1p")
    with pytest.raises(KitError, match=r"time holdout but its feature code gives no dates"):
        make_folds(get("rossmann"), no_dates)


def test_prepared_rejects_mismatched_lengths():
    p = _binary()
    with pytest.raises(KitError, match=r"600 training rows but 599 targets"):
        Prepared(X=p.X, y=p.y[:-1], X_test=p.X_test, test_ids=p.test_ids)
    with pytest.raises(KitError, match=r"50 test rows but 49 test ids"):
        Prepared(X=p.X, y=p.y, X_test=p.X_test, test_ids=p.test_ids[:-1])


# -- train --------------------------------------------------------------------------------------

def test_train_writes_a_run_folder_whose_scores_match_its_predictions(tmp_path):
    comp = get("rossmann")
    p = _rossmann_like()
    folds = load_folds(comp, p, tmp_path)
    r = train(comp, p, folds, "lgbm", tmp_path / "lgbm", params=FAST_LGBM, log=lambda *_: None)
    for f in ("config.json", "metrics.json", "oof.parquet", "test.parquet", "models/fold_0.pkl", "models/all.pkl"):
        assert (tmp_path / "lgbm" / f).exists(), f
    oof = pl.read_parquet(tmp_path / "lgbm" / "oof.parquet")
    np.testing.assert_array_equal(oof["row"].to_numpy(), folds.valid_rows())
    # the recorded score is the mean over windows of RMSPE on the sales scale of the stored log
    # predictions, each window scored on its own rows
    want = [rmspe(np.expm1(p.y[va]), np.expm1(oof.filter(pl.col("fold") == k)["pred"].to_numpy()))
            for k, (_, va) in enumerate(folds.splits)]
    metrics = json.loads((tmp_path / "lgbm" / "metrics.json").read_text())
    assert metrics["folds"] == pytest.approx(want)
    assert metrics["oof"] == pytest.approx(np.mean(want)) == pytest.approx(r.score)
    assert r.score < 0.1  # store x weekday explains the sales up to 5% noise
    config = json.loads((tmp_path / "lgbm" / "config.json").read_text())
    assert config["refit"] is True and config["params"]["num_leaves"] == 15
    assert config["folds"]["fingerprint"] == folds.fingerprint
    test = pl.read_parquet(tmp_path / "lgbm" / "test.parquet")
    assert test["id"].to_list() == p.test_ids.to_list() and test["pred"].is_finite().all()


def test_same_seed_same_run_files(tmp_path):
    comp = get("porto_seguro")
    p = _binary()
    folds = load_folds(comp, p, tmp_path)
    a = train(comp, p, folds, "lgbm", tmp_path / "a", params=FAST_LGBM, log=lambda *_: None)
    b = train(comp, p, folds, "lgbm", tmp_path / "b", params=FAST_LGBM, log=lambda *_: None)
    np.testing.assert_array_equal(a.oof, b.oof)
    np.testing.assert_array_equal(a.test, b.test)
    assert (tmp_path / "a" / "oof.parquet").read_bytes() == (tmp_path / "b" / "oof.parquet").read_bytes()
    # k-fold: test predictions are the mean of the fold models
    assert not json.loads((tmp_path / "a" / "config.json").read_text())["refit"]
    # the score: the mean of each fold's Gini on its own rows
    per_fold = [normalized_gini(p.y[a.oof_rows[a.oof_fold == k]], a.oof[a.oof_fold == k]) for k in range(len(folds))]
    assert a.fold_scores == pytest.approx(per_fold) and a.score == pytest.approx(np.mean(per_fold))


def test_a_rerun_replaces_the_run_folder_whole(tmp_path):
    comp = get("porto_seguro")
    p = _binary()
    folds = load_folds(comp, p, tmp_path)
    train(comp, p, folds, "lgbm", tmp_path / "m", params=FAST_LGBM, log=lambda *_: None)
    (tmp_path / "m" / "stale.txt").write_text("x")
    train(comp, p, folds, "lgbm", tmp_path / "m", params=FAST_LGBM, log=lambda *_: None)
    assert not (tmp_path / "m" / "stale.txt").exists()
    assert sorted(q.name for q in tmp_path.iterdir() if q.name.startswith(".")) == []


def test_managed_and_unknown_hyperparameters_are_refused(tmp_path):
    comp = get("porto_seguro")
    p = _binary()
    folds = make_folds(comp, p)
    with pytest.raises(KitError, match=r"random_state is set by the run"):
        train(comp, p, folds, "lgbm", tmp_path / "x", params={"random_state": 3})
    with pytest.raises(KitError, match=r"has no hyperparameter 'leaves'"):
        train(comp, p, folds, "lgbm", tmp_path / "x", params={"leaves": 3})


# -- blend --------------------------------------------------------------------------------------

def test_ensemble_selection_by_hand():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    good, bad = y + 0.1, y[::-1]

    def neg_mse(p):
        return -float(np.mean((p - y) ** 2))

    np.testing.assert_allclose(ensemble_selection(neg_mse, [bad, good], greater_is_better=True), [0, 1])
    # two predictors with opposite errors: half and half cancels them exactly
    lo, hi = y - 1, y + 1
    np.testing.assert_allclose(ensemble_selection(neg_mse, [lo, hi], greater_is_better=True), [0.5, 0.5])


def test_blend_beats_its_parts_and_rank_averages_for_gini(tmp_path):
    comp = get("porto_seguro")
    p = _binary(n=1500)
    folds = load_folds(comp, p, tmp_path)
    quiet = lambda *_: None  # noqa: E731
    # two models that each see only one of the two informative inputs
    a_only = Prepared(X=p.X.select("a", noise=pl.col("b") * 0), y=p.y, X_test=p.X_test.select("a", noise=pl.col("b") * 0),
                      test_ids=p.test_ids)
    ra = train(comp, a_only, folds, "lgbm", tmp_path / "a", params=FAST_LGBM, log=quiet)
    rr = train(comp, p, folds, "rf", tmp_path / "rf", params={"n_estimators": 30, "n_jobs": 1}, log=quiet)
    b = blend_runs(comp, p, [tmp_path / "a", tmp_path / "rf"], tmp_path / "blend", log=quiet)
    assert b.score >= max(ra.score, rr.score) - 1e-12
    config = json.loads((tmp_path / "blend" / "config.json").read_text())
    assert config["rank_average"] is True and sum(config["weights"].values()) == pytest.approx(1.0)
    # ranks: the blend's predictions lie in [0, 1]
    assert 0 <= b.test.min() and b.test.max() <= 1
    back = read_run(tmp_path / "blend")
    np.testing.assert_allclose(back.oof, b.oof)
    # its score: each fold blended with weights fitted on the other folds only, then averaged
    rows, fold = ra.oof_rows, ra.oof_fold
    preds = [ranks(ra.oof), ranks(rr.oof)]
    by_hand = []
    for k in range(len(folds)):
        out = fold != k
        w = ensemble_selection(lambda q: normalized_gini(p.y[rows[out]], q), [q[out] for q in preds],
                               greater_is_better=True)
        blend_k = w[0] * preds[0] + w[1] * preds[1]
        by_hand.append(normalized_gini(p.y[rows[~out]], blend_k[~out]))
    assert b.fold_scores == pytest.approx(by_hand) and b.score == pytest.approx(np.mean(by_hand))


def test_blend_refuses_runs_on_other_folds(tmp_path):
    comp = get("porto_seguro")
    quiet = lambda *_: None  # noqa: E731
    p1, p2 = _binary(seed=0), _binary(seed=1)
    train(comp, p1, make_folds(comp, p1), "lgbm", tmp_path / "one", params=FAST_LGBM, log=quiet)
    train(comp, p2, make_folds(comp, p2), "lgbm", tmp_path / "two", params=FAST_LGBM, log=quiet)
    with pytest.raises(KitError, match=r"trained on different folds"):
        blend_runs(comp, p1, [tmp_path / "one", tmp_path / "two"], tmp_path / "b", log=quiet)
    with pytest.raises(KitError, match=r"is not a finished run \(no config.json\)"):
        blend_runs(comp, p1, [tmp_path / "nothing"], tmp_path / "b", log=quiet)


# -- submission ---------------------------------------------------------------------------------

def test_submission_follows_the_sample_order_and_needs_every_id(tmp_path):
    comp = get("rossmann")
    p = _rossmann_like()
    n = len(p.test_ids)
    pl.DataFrame({"Id": np.arange(n, 0, -1), "Sales": np.zeros(n)}).write_csv(tmp_path / "sample_submission.csv")
    folds = make_folds(comp, p)
    r = train(comp, p, folds, "lgbm", tmp_path / "r", params=FAST_LGBM, log=lambda *_: None)
    sub = submission_frame(comp.spec, tmp_path, p, r.test)
    assert sub["Id"].to_list() == [str(i) for i in range(n, 0, -1)]
    by_id = dict(zip(p.test_ids.cast(pl.String).to_list(), np.expm1(r.test)))
    np.testing.assert_allclose(sub["Sales"].to_numpy(), [by_id[i] for i in sub["Id"].to_list()])
    short = Prepared(X=p.X, y=p.y, X_test=p.X_test[:-1], test_ids=p.test_ids[:-1], target_transform="log1p",
                     dates=p.dates)
    r2 = train(comp, short, folds, "lgbm", tmp_path / "r2", params=FAST_LGBM, log=lambda *_: None)
    with pytest.raises(KitError, match=r"miss 1 of the 42 ids in sample_submission.csv"):
        submission_frame(comp.spec, tmp_path, short, r2.test)


def test_multilabel_runs_tune_thresholds_on_out_of_fold_probabilities(tmp_path):
    comp = get("planet")
    rng = np.random.default_rng(0)
    n, labels = 900, ("a", "b", "c")
    X = pl.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    Y = np.column_stack([(X["x0"] > 0), (X["x1"] > 0.5), (X["x0"] + X["x1"] > 1)]).astype(np.int64)
    p = Prepared(X=X, y=Y, X_test=X[:20], test_ids=pl.Series("image_name", [f"t{i}" for i in range(20)]),
                 labels=labels)
    folds = make_folds(comp, p, n_splits=3)
    r = train(comp, p, folds, "lgbm", tmp_path / "m", params=FAST_LGBM, log=lambda *_: None)
    assert r.thresholds.shape == (3,) and r.score > 0.9
    assert r.oof.shape == (n, 3) and r.test.shape == (20, 3)
    assert pl.read_parquet(tmp_path / "m" / "oof.parquet").columns == ["row", "fold", "pred_a", "pred_b", "pred_c"]


def test_run_trains_the_features_run_list_and_train_keeps_every_tuned_model():
    """`RUN` in a features.py picks what `kit run` trains; `kit train COMP nn` still starts from
    the network's tuned hyperparameters in MODELS."""
    from kit.features import default_models, model_defaults
    from kit.runs import model_params
    from kit.spec import get

    comp = get("rossmann")
    assert list(default_models(comp)) == ["lgbm"]
    assert set(model_defaults(comp)) == {"lgbm", "rf", "nn"}
    assert model_params(comp, "nn")["layers"] == model_defaults(comp)["nn"]["layers"]
