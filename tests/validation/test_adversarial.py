"""Adversarial validation: drift statistics by hand, constructed shifts, the twins' shifts, files, CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone, is_classifier

from kit.cli import main
from kit.errors import KitError
from kit.spec import get
from kit.synth import generate
from kit.validation.adversarial import (
    recent_rows,
    AdversarialConfig,
    AdversaryClassifier,
    adversarial_for,
    auc,
    derived_from_time,
    ks_distance,
    run_adversarial,
    tv_distance,
    write_report,
)
from kit.validation.splits import StratifiedKFold

FAST = {"num_threads": 1}


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# ----------------------------------------------------------------------------- statistics by hand


def test_ks_distance_by_hand():
    assert ks_distance([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5
    # missing is an atom below every value: F_train = .25 .5 .75 1 against 0 .25 .5 .75 1
    assert ks_distance([None, 1, 2, 3], [1, 2, 3, 4]) == 0.25
    assert ks_distance([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == 0.0
    assert ks_distance([1, 2], [5, 6]) == 1.0
    assert ks_distance([None, None], [1, 2]) == 1.0


def test_tv_distance_by_hand():
    # train a .5 b .5, test a .25 b .5 c .25 -> (.25 + 0 + .25) / 2
    assert tv_distance(["a", "a", "b", "b"], ["a", "b", "b", "c"]) == 0.25
    assert tv_distance(["a", None], ["a", "a"]) == 0.5  # missing is a level of its own
    assert tv_distance(["x", "y"], ["y", "x"]) == 0.0
    assert tv_distance([True, True], [False, False]) == 1.0


def test_auc_by_hand():
    # pairs (neg, pos): (.1,.35) (.1,.8) (.4,.8) ordered right, (.4,.35) wrong -> 3/4
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert auc(np.array([1, 1, 0]), np.array([3.0, 2.0, 1.0])) == 1.0


def test_label_folds_use_every_row_once_and_keep_the_ratio():
    # the classifier is cross-validated on kit's StratifiedKFold over the is-test label
    y = np.r_[np.zeros(103, np.int64), np.ones(17, np.int64)]
    X = np.zeros((120, 1))
    folds = list(StratifiedKFold(5, random_state=3).split(X, y))
    valid = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(valid), np.arange(120))
    for tr, va in folds:
        assert not np.intersect1d(tr, va).size and len(tr) + len(va) == 120
        assert abs(y[va].sum() - 17 / 5) < 1 and abs(len(va) - 24) <= 1
    again = StratifiedKFold(5, random_state=3).split(X, y)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))


def test_config_is_typed_data_with_the_old_defaults_and_checks():
    cfg = AdversarialConfig()
    assert (cfg.n_folds, cfg.max_rows, cfg.max_ratio, cfg.threshold, cfg.max_drop_steps, cfg.n_estimators,
            cfg.learning_rate, cfg.num_leaves, cfg.seed) == (5, 200_000, 5.0, 0.55, 10, 100, 0.1, 31, 0)
    assert AdversarialConfig(target_cols="y", drop="z").target_cols == ("y",)  # a bare string is one column
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_folds = 3
    with pytest.raises(KitError, match="n_folds must be at least 2 for cross-validation, got 1"):
        AdversarialConfig(n_folds=1)
    with pytest.raises(KitError, match="max_ratio is the most rows of the larger side per row of the smaller"):
        AdversarialConfig(max_ratio=0.5)
    with pytest.raises(TypeError, match="unknown option\\(s\\) 'folds'; the options are: id_col, "):
        run_adversarial(pl.DataFrame({"x": [1.0]}), pl.DataFrame({"x": [1.0]}), folds=3)


def test_config_and_keywords_give_the_same_report():
    train, test = _normal_frames(n_train=300, n_test=150)
    cfg = AdversarialConfig(id_col="id", target_cols=("target",), n_folds=3, max_drop_steps=1, num_threads=1)
    a = run_adversarial(train, test, cfg)
    b = run_adversarial(train, test, id_col="id", target_cols=("target",), n_folds=3, max_drop_steps=1,
                        num_threads=1)
    c = run_adversarial(train, test, cfg, max_drop_steps=0)  # keywords override the config
    assert a == b and a.scores.equals(b.scores) and a.drop_path and not c.drop_path


def test_the_classifier_is_a_scikit_learn_estimator():
    model = AdversaryClassifier(categorical=(1,), n_estimators=20, num_threads=1, seed=3)
    assert clone(model).get_params() == model.get_params() and is_classifier(model)
    g = np.random.default_rng(0)
    X = np.column_stack([g.normal(0, 1, 400), g.integers(0, 3, 400)]).astype(float)
    y = (X[:, 0] + (X[:, 1] == 2) > 0.5).astype(int)
    fitted = clone(model).fit(X, y)
    p = fitted.predict_proba(X)
    assert p.shape == (400, 2) and np.allclose(p.sum(1), 1) and auc(y, p[:, 1]) > 0.9
    assert fitted.feature_importances_.shape == (2,) and (fitted.feature_importances_ > 0).all()
    assert not hasattr(model, "booster_")  # clone fitted, the original untouched


# ----------------------------------------------------------------------------- constructed shifts


def _normal_frames(seed: int = 0, n_train: int = 1500, n_test: int = 600, shift: float = 1.5):
    g = np.random.default_rng(seed)
    train = pl.DataFrame({
        "id": np.arange(n_train), "target": g.random(n_train),
        "a": g.normal(0, 1, n_train), "b": g.normal(0, 1, n_train), "moved": g.normal(0, 1, n_train),
        "c": g.choice(["p", "q", "r"], n_train)})
    test = pl.DataFrame({
        "id": np.arange(n_train, n_train + n_test),
        "a": g.normal(0, 1, n_test), "b": g.normal(0, 1, n_test), "moved": g.normal(shift, 1, n_test),
        "c": g.choice(["p", "q", "r"], n_test)})
    return train, test


def test_shifted_column_is_found_first_and_the_drop_loop_ends_near_half():
    train, test = _normal_frames()
    before_train, before_test = train.clone(), test.clone()
    rep = run_adversarial(train, test, id_col="id", target_cols=("target",), seed=0, **FAST)
    assert train.equals(before_train) and test.equals(before_test)  # inputs untouched

    # one normal shifted by 1.5 sd: AUC = Phi(1.5 / sqrt 2) = 0.855, KS = 2 Phi(0.75) - 1 = 0.547
    assert rep.auc_mean == pytest.approx(_phi(1.5 / math.sqrt(2)), abs=0.05)
    assert len(rep.fold_aucs) == 5 and rep.auc_std == pytest.approx(np.std(rep.fold_aucs))
    top = rep.features[0]
    assert rep.top_drifter == "moved" and top.statistic == "ks"
    assert top.drift == pytest.approx(2 * _phi(0.75) - 1, abs=0.06)
    assert max(f.drift for f in rep.features[1:]) < 0.1
    assert sum(f.importance for f in rep.features) == pytest.approx(1.0)
    assert [f.name for f in rep.features if f.kind == "categorical"] == ["c"]
    assert {lo.column: lo.reason for lo in rep.left_out} == {"id": "id column"}
    assert rep.notes[0] == "only in train: target; only in test: - (not compared)"

    # dropping the shifted column brings the AUC to about 0.5 in one step
    assert [s.dropped for s in rep.drop_path] == ["moved"]
    assert abs(rep.drop_path[0].auc_mean - 0.5) < 0.05 and not rep.alike


def test_new_category_in_test_is_the_top_drifter_with_its_tv():
    n = 1000
    g = np.random.default_rng(1)
    train = pl.DataFrame({"x": g.normal(0, 1, n), "shop": np.repeat(["a", "b"], n // 2)})
    # test: a .35, b .35, new .30 -> TV = (.15 + .15 + .30) / 2 = 0.30
    test = pl.DataFrame({"x": g.normal(0, 1, n), "shop": np.repeat(["a", "b", "new"], [350, 350, 300])})
    rep = run_adversarial(train, test, max_drop_steps=0, **FAST)
    shop = rep.features[0]
    assert (shop.name, shop.kind, shop.statistic) == ("shop", "categorical", "tv")
    assert shop.drift == pytest.approx(0.30)
    # the new level marks 30% of the test rows for sure: AUC >= 0.5 + 0.3 / 2
    assert rep.auc_mean > 0.6


def test_test_like_rows_are_the_shifted_ones():
    g = np.random.default_rng(2)
    n, k = 2000, 200
    shifted = np.sort(g.choice(n, k, replace=False))
    x = g.normal(0, 1, n)
    x[shifted] = g.normal(4, 1, k)  # these train rows look like the test
    train = pl.DataFrame({"key": np.arange(10_000, 10_000 + n), "x": x, "noise": g.normal(0, 1, n)})
    test = pl.DataFrame({"key": np.arange(500), "x": g.normal(4, 1, 500), "noise": g.normal(0, 1, 500)})
    rep = run_adversarial(train, test, id_col="key", n_test_like=k, max_drop_steps=0, **FAST)
    found = np.intersect1d(rep.test_like_rows, shifted)
    # an oracle that knows `x` moved ranks by x and finds 187 of the 200; the classifier
    # (which learnt those rows as "train") finds 171
    oracle = np.intersect1d(np.argsort(-x)[:k], shifted)
    assert len(rep.test_like_rows) == k and len(found) >= 0.8 * k and len(found) >= 0.85 * len(oracle)
    assert rep.scores.filter(pl.col("row").is_in(shifted))["adversarial_score"].mean() > 0.5 > \
        rep.scores.filter(~pl.col("row").is_in(shifted))["adversarial_score"].mean()
    assert rep.scores.height == n and rep.scores["test_like"].sum() == k
    assert rep.scores["adversarial_score"].is_sorted(descending=True)
    assert set(rep.test_like_ids) == {10_000 + r for r in rep.test_like_rows.tolist()}
    with pytest.raises(ValueError):
        rep.test_like_rows[0] = 0  # read-only: the report is a value


def test_subsample_caps_rows_and_still_scores_every_train_row():
    train, test = _normal_frames(n_train=3000, n_test=300)
    rep = run_adversarial(train, test, id_col="id", target_cols=("target",), max_rows=1000,
                          max_drop_steps=0, **FAST)
    assert (rep.n_train_used, rep.n_test_used) == (1000, 300)
    assert rep.n_train == 3000 and rep.scores.height == 3000
    assert rep.scores["adversarial_score"].is_between(0, 1).all()
    assert len(rep.test_like_rows) == 300  # as many as the test has (at most a fifth of train)


def test_derived_from_time_finds_calendar_parts_and_copies_of_the_date():
    days = pl.date_range(pl.date(2014, 1, 1), pl.date(2015, 6, 30), eager=True)
    n = len(days)
    g = np.random.default_rng(0)
    frame = pl.DataFrame({"date": pl.concat([days, days]),
                          "store": np.repeat([1, 2], n)}).with_columns(
        weekday=pl.col("date").dt.weekday(),
        month_name=pl.col("date").dt.strftime("%b"),
        elapsed=(pl.col("date") - pl.date(2014, 1, 1)).dt.total_days(),
        promo=pl.Series(np.tile(g.integers(0, 2, n), 2)),  # chain-wide, but not a calendar part
        sales=pl.Series(g.normal(0, 1, 2 * n)),
        constant=pl.lit(7))
    found = derived_from_time(frame, "date", frame.columns)
    assert set(found) == {"weekday", "month_name", "elapsed"}
    assert "weekday" in found["weekday"] and "month" in found["month_name"]
    assert found["elapsed"] == "the date in another form"
    # one row per date: there is no evidence that a value follows the date, so nothing is flagged
    daily = frame.filter(pl.col("store") == 1)
    assert set(derived_from_time(daily, "date", daily.columns)) == {"weekday", "month_name"}


# ----------------------------------------------------------------------------- the twins


@pytest.fixture(scope="module")
def twin_seeds(tiny_twin, tmp_path_factory):
    """`twin_seeds(name, seed)` -> folder of the tiny twin with that seed (seed 0 is shared)."""
    made = {}

    def make(name: str, seed: int):
        if seed == 0:
            return tiny_twin(name)
        if (name, seed) not in made:
            folder = tmp_path_factory.mktemp(f"{name}-tiny-{seed}")
            generate(get(name), folder, size="tiny", seed=seed)
            made[name, seed] = folder
        return made[name, seed]

    return make


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rossmann_twin_shift_is_found(twin_seeds, seed):
    rep = adversarial_for(get("rossmann"), twin_seeds("rossmann", seed), max_drop_steps=0, **FAST)
    # measured 0.79-0.81 on seeds 0-2
    assert rep.auc_mean > 0.7, rep.summary()
    assert "a time holdout on the last Date days" in rep.verdict()
    gone = {lo.column: lo.reason for lo in rep.left_out}
    assert gone["Date"] == "time column" and "weekday" in gone["DayOfWeek"]
    assert any("the test is the future" in n for n in rep.notes)
    # the twin's test holds 15 of the 20 stores and falls in the summer school holidays
    assert rep.top_drifter == "Store"
    assert {f.name for f in rep.features[:2]} == {"Store", "SchoolHoliday"}


def test_rossmann_drop_loop_names_the_shifted_features(tiny_twin):
    rep = adversarial_for(get("rossmann"), tiny_twin("rossmann"), max_drop_steps=4, **FAST)
    assert [s.dropped for s in rep.drop_path] == ["Store", "SchoolHoliday"]
    assert rep.drop_path[-1].auc_mean <= rep.threshold


def test_rossmann_keep_time_lets_the_date_separate_everything(tiny_twin):
    rep = adversarial_for(get("rossmann"), tiny_twin("rossmann"), keep_time=True, max_drop_steps=0, **FAST)
    assert rep.auc_mean > 0.99 and rep.top_drifter == "Date"
    assert "DayOfWeek" in {f.name for f in rep.features}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bulldozers_twin_shift_is_found(twin_seeds, seed):
    rep = adversarial_for(get("bulldozers"), twin_seeds("bulldozers", seed), max_drop_steps=0, **FAST)
    # measured 0.97-0.98 on seeds 0-2
    assert rep.auc_mean > 0.9, rep.summary()
    # the twin's 2012 sales: new datasource mix (132 gone, 173 new), hours almost always
    # filled, younger machines
    assert rep.top_drifter in {"datasource", "MachineHoursCurrentMeter"}
    assert {f.name for f in rep.features[:3]} == {"datasource", "MachineHoursCurrentMeter", "YearMade"}
    drift = {f.name: f for f in rep.features}
    assert drift["MachineHoursCurrentMeter"].train_missing > 0.4 > 0.05 > drift["MachineHoursCurrentMeter"].test_missing
    assert {lo.column for lo in rep.left_out} >= {"SalesID", "saledate"}


def test_porto_seguro_twin_random_split_looks_alike(tiny_twin):
    rep = adversarial_for(get("porto_seguro"), tiny_twin("porto_seguro"), **FAST)
    assert abs(rep.auc_mean - 0.5) < 0.05, rep.summary()  # measured 0.502
    assert rep.alike and rep.drop_path == ()
    assert max(f.drift for f in rep.features) < 0.05


# ----------------------------------------------------------------------------- files and errors


def test_report_files_are_written_and_rewritten_the_same(tmp_path):
    train, test = _normal_frames()
    rep = run_adversarial(train, test, id_col="id", target_cols=("target",), max_drop_steps=2, **FAST)
    files = write_report(rep, tmp_path / "out")
    assert files.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(files.json.read_text())
    assert saved["auc_mean"] == rep.auc_mean and saved["fold_aucs"] == list(rep.fold_aucs)
    assert saved["features"][0]["name"] == "moved" and saved["drop_path"][0]["dropped"] == "moved"
    assert saved["test_like"]["count"] == len(rep.test_like_rows) == 300
    assert saved["test_like"]["file"] == "adversarial_test_like.parquet"
    scores = pl.read_parquet(files.test_like)
    assert scores.columns == ["row", "id", "adversarial_score", "test_like"]
    assert scores["test_like"].sum() == 300 and scores.height == train.height
    first = files.json.read_text()
    write_report(rep, tmp_path / "out")
    assert files.json.read_text() == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "adversarial.json", "adversarial.png", "adversarial_test_like.parquet"]  # no temp files left


def test_bad_inputs_are_one_clear_error():
    train, test = _normal_frames(n_train=200, n_test=100)
    with pytest.raises(KitError, match="drop names 'nope', a column in neither train nor test"):
        run_adversarial(train, test, drop=("nope",))
    with pytest.raises(KitError, match=r"share no column \(train: u; test: v\)"):
        run_adversarial(pl.DataFrame({"u": [1, 2]}), pl.DataFrame({"v": [1, 2]}))
    with pytest.raises(KitError, match="no feature left to compare"):
        run_adversarial(train, test, id_col="id", drop=("a", "b", "moved", "c"))
    with pytest.raises(KitError, match="5-fold cross-validation needs at least 5 rows on each side; "
                                       "train has 200, test 3"):
        run_adversarial(train, test.head(3))
    with pytest.raises(KitError, match="threshold is an AUC between 0.5 and 1, got 0.3"):
        run_adversarial(train, test, threshold=0.3)
    with pytest.raises(KitError, match="time_col names 'when'"):
        run_adversarial(train, test, time_col="when")
    with pytest.raises(KitError, match="id_col names 'ID'"):  # a typo would make the id a feature
        run_adversarial(train, test, id_col="ID")


def test_column_types_are_encoded_or_left_out_with_a_reason():
    n = 300
    g = np.random.default_rng(4)

    def frame(day0: int) -> pl.DataFrame:
        days = pl.Series(np.arange(day0, day0 + n).astype("datetime64[D]"))
        return pl.DataFrame({
            "day": days, "stamp": days.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "wait": pl.Series(g.integers(0, 100, n).astype("timedelta64[ms]")),
            "flag": g.random(n) < 0.5, "empty": pl.Series([None] * n), "lists": [[1, 2]] * n,
            "code": pl.Series(g.integers(0, 9, n)).cast(pl.String)})

    train = frame(0)
    test = frame(1000).with_columns(pl.col("code").cast(pl.Int64))  # read as numbers here: compared as text
    rep = run_adversarial(train, test, max_drop_steps=0, **FAST)
    kinds = {f.name: f.kind for f in rep.features}
    assert kinds == {"day": "date", "stamp": "date", "wait": "numeric", "flag": "categorical",
                     "code": "categorical"}
    assert {lo.column for lo in rep.left_out} == {"empty", "lists"}
    assert {f.name: f.drift for f in rep.features}["day"] == 1.0  # 1000 days apart


def test_cli_prints_the_table_and_writes_the_report(tiny_twin, tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["adversarial", "rossmann", "--data-dir", str(tiny_twin("rossmann")), "--out", str(out),
                 "--max-steps", "1", "--top", "3"])
    text = capsys.readouterr().out
    assert code == 0
    assert "AUC 0." in text and "± " in text and "Store" in text and "left out Date, DayOfWeek" in text
    assert "- Store" in text and "... and 2 more" in text
    assert (out / "adversarial.png").exists() and json.loads((out / "adversarial.json").read_text())["n_test"] == 720


def test_cli_on_two_files_and_its_errors(tmp_path, capsys):
    train, test = _normal_frames(n_train=400, n_test=200)
    train.write_csv(tmp_path / "a.csv")
    test.write_csv(tmp_path / "b.csv")
    pl.DataFrame({"other": [1, 2, 3]}).write_csv(tmp_path / "c.csv")
    args = ["adversarial", "--train", str(tmp_path / "a.csv"), "--test", str(tmp_path / "b.csv"), "--id", "id",
            "--target", "target", "--max-steps", "0"]
    assert main(args) == 0
    assert "moved" in capsys.readouterr().out
    assert (tmp_path / "reports" / "adversarial.json").exists()  # beside the train file by default

    assert main([*args, "--drop", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err and "shared columns are: id, a, b, moved, c" in err
    assert main(["adversarial", "--train", str(tmp_path / "a.csv"), "--test", str(tmp_path / "c.csv")]) == 2
    assert "share no column" in capsys.readouterr().err
    assert main(["adversarial", "--train", str(tmp_path / "a.csv")]) == 2
    assert "both --train FILE and --test FILE" in capsys.readouterr().err


def test_recent_rows_keep_the_last_days_eager_or_lazy():
    days = pl.date_range(pl.date(2015, 1, 1), pl.date(2015, 1, 10), eager=True)
    frame = pl.DataFrame({"Date": days, "x": range(10)})
    assert recent_rows(frame, "Date", 3)["x"].to_list() == [7, 8, 9]
    assert recent_rows(frame.lazy(), "Date", 3).collect()["x"].to_list() == [7, 8, 9]


def test_cli_horizon_compares_the_test_with_the_validation_windows_only(tiny_twin, tmp_path, capsys):
    folder = tiny_twin("rossmann")
    out = tmp_path / "rep"
    code = main(["adversarial", "rossmann", "--data-dir", str(folder), "--out", str(out), "--horizon", "10",
                 "--max-steps", "0"])
    text = capsys.readouterr().out
    assert code == 0 and "train: its last 30 days, 3 validation windows of 10" in text
    train = pl.read_csv(folder / "train.csv", try_parse_dates=True, infer_schema=False).with_columns(pl.col("Date").str.to_date())
    recent = train.filter(pl.col("Date") > train["Date"].max() - pl.duration(days=30)).height
    assert json.loads((out / "adversarial.json").read_text())["n_train"] == recent < train.height
    assert main(["adversarial", "porto_seguro", "--data-dir", str(tiny_twin("porto_seguro")), "--out",
                 str(tmp_path / "p"), "--horizon", "10"]) == 2
    assert "test is not a later period" in capsys.readouterr().err
